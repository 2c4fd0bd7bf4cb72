/**
 * The JSON Schema pattern phase of `npm run bench`, in the bench's own process: how long a tenant's worst pattern
 * holds the event loop on RE2 (what Signalpost runs, src/lib/linear-pattern.ts) against V8's backtracking engine (what
 * ajv ran before), and what RE2 costs on an ordinary pattern, both measured in the same run.
 */
import { compileLinearPattern } from "../../src/lib/linear-pattern.js";

/** The pattern from the review: against n `a`s and a `!`, V8's time doubles with each `a`. */
const CATASTROPHIC = "^(a+)+$";
/** V8 is measured at this length only (about 0.1 to 0.5 s on the bench machines); each `a` more doubles it. */
const V8_LENGTH = 24;
/** What RE2 is measured at: the 256 KB payload limit, all in one string. */
const RE2_LENGTH = 256 * 1024;
const ORDINARY = "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$";
const ORDINARY_INPUT = "someone.with.a.long.name@mail.example.com";
const ORDINARY_ROUNDS = 100_000;

function time(run: () => unknown): number {
  const started = performance.now();
  run();
  return performance.now() - started;
}

export interface PatternFigures {
  v8_catastrophic_ms_at_24: number;
  re2_catastrophic_ms_at_24: number;
  re2_catastrophic_ms_at_256kb: number;
  v8_ordinary_ns: number;
  re2_ordinary_ns: number;
  re2_vs_v8_ordinary_cost: number;
}

export function runPatternPhase(): PatternFigures {
  const evil = (length: number) => `${"a".repeat(length)}!`;
  const v8 = new RegExp(CATASTROPHIC, "u");
  const re2 = compileLinearPattern(CATASTROPHIC);
  const v8Catastrophic = time(() => v8.test(evil(V8_LENGTH)));
  const re2Short = time(() => re2.test(evil(V8_LENGTH)));
  const re2Long = time(() => re2.test(evil(RE2_LENGTH)));

  const v8Ordinary = new RegExp(ORDINARY, "u");
  const re2Ordinary = compileLinearPattern(ORDINARY);
  for (let i = 0; i < 1_000; i++) v8Ordinary.test(ORDINARY_INPUT) && re2Ordinary.test(ORDINARY_INPUT);
  const v8Ns =
    (time(() => {
      for (let i = 0; i < ORDINARY_ROUNDS; i++) v8Ordinary.test(ORDINARY_INPUT);
    }) *
      1e6) /
    ORDINARY_ROUNDS;
  const re2Ns =
    (time(() => {
      for (let i = 0; i < ORDINARY_ROUNDS; i++) re2Ordinary.test(ORDINARY_INPUT);
    }) *
      1e6) /
    ORDINARY_ROUNDS;
  return {
    v8_catastrophic_ms_at_24: Math.round(v8Catastrophic),
    re2_catastrophic_ms_at_24: Number(re2Short.toFixed(2)),
    re2_catastrophic_ms_at_256kb: Math.round(re2Long),
    v8_ordinary_ns: Math.round(v8Ns),
    re2_ordinary_ns: Math.round(re2Ns),
    re2_vs_v8_ordinary_cost: Number((re2Ns / v8Ns).toFixed(1)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${JSON.stringify(runPatternPhase())}\n`);
