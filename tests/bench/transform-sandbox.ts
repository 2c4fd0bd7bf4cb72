/**
 * `npx tsx tests/bench/transform-sandbox.ts`: what a transform costs through the sandbox (child processes) against
 * compiling and evaluating it in-process as runTransform used to, one evaluation at a time and two at once. The figure
 * is quoted in src/lib/jsonata-sandbox.ts.
 */
import { execFileSync } from "node:child_process";
import jsonata from "jsonata";
import { JsonataSandbox } from "../../src/lib/jsonata-sandbox.js";
import { TRANSFORM_LIMITS } from "../../src/modules/agents/agent-config.js";

const transform = '{ "ticketId": ticket.id, "title": ticket.subject }';
const payload = {
  ticket: { id: 42, subject: "Printer on fire", body: "x".repeat(900), tags: ["hardware", "urgent"] },
};
const rounds = 5_000;

async function perCall(label: string, run: () => Promise<unknown>, parallel = 1): Promise<number> {
  for (let i = 0; i < 200; i++) await run();
  const started = performance.now();
  for (let i = 0; i < rounds / parallel; i++) await Promise.all(Array.from({ length: parallel }, run));
  const ms = (performance.now() - started) / rounds;
  console.log(`${label}: ${ms.toFixed(3)} ms per evaluation`);
  return ms;
}

const sandbox = new JsonataSandbox({
  size: 2,
  timeoutMs: TRANSFORM_LIMITS.timeout,
  stack: TRANSFORM_LIMITS.stack,
  heapMb: 64,
  killAfterMs: 2_000,
  maxResultChars: 1_000_000,
});
const inProcess = await perCall("in-process (compile + evaluate)", () =>
  jsonata(transform, TRANSFORM_LIMITS).evaluate(payload),
);
const compiled = jsonata(transform, TRANSFORM_LIMITS);
const inProcessCached = await perCall("in-process (compiled once)", () => compiled.evaluate(payload));
const sandboxed = await perCall("sandbox, one at a time", () => sandbox.evaluate(transform, payload));
await perCall("sandbox, two at once", () => sandbox.evaluate(transform, payload), 2);
console.log(
  `hop overhead: ${(sandboxed - inProcessCached).toFixed(3)} ms against a compiled expression, ` +
    `${(sandboxed - inProcess).toFixed(3)} ms against compiling each time`,
);
const children = execFileSync("ps", ["-o", "rss=", "--ppid", String(process.pid)], { encoding: "utf8" });
console.log(
  `children resident: ${children
    .trim()
    .split(/\s+/)
    .map((kb) => `${Math.round(Number(kb) / 1024)} MB`)
    .join(", ")}`,
);
sandbox.stop();
