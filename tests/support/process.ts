import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { TEST_MASTER_KEY } from "./master-key.js";

const BIN = fileURLToPath(new URL("../../src/bin.mjs", import.meta.url));
/** The compiled build's entry, what `npm start` runs (made by `npm run build`). */
export const COMPILED_ENTRY = fileURLToPath(new URL("../../dist/entry.js", import.meta.url));

/** A `signalpost` process started the way a user would start it, with its output captured. */
export interface SignalpostProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines so far. */
  logs(): Record<string, unknown>[];
  /** Resolves with the first log line matching, or rejects when the process exits first or time runs out. */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (and how long it took since `since`, if given). */
  exited: Promise<number | null>;
}

/**
 * Runs `node src/bin.mjs <args>` (or another entry) with the given environment added to a clean one (no inherited DATABASE_URL). With
 * DATABASE_URL, SIGNALPOST_MASTER_KEY defaults to the file's shared test key; pass `undefined` to leave it out.
 */
export function runSignalpost(
  args: string[],
  env: Record<string, string | undefined>,
  entry = BIN,
  options: { detached?: boolean } = {},
): SignalpostProcess {
  const inherited = { ...process.env };
  for (const name of ["DATABASE_URL", "PORT", "VITEST", "VITEST_WORKER_ID", "VITEST_POOL_ID", "NODE_OPTIONS"])
    delete inherited[name];
  const child = spawn(process.execPath, [entry, ...args], {
    env: Object.fromEntries(
      Object.entries({
        ...inherited,
        LOG_LEVEL: "info",
        // Any free port, like PORT=0: processes of parallel test files must not fight over 9100.
        SIGNALPOST_METRICS_PORT: "0",
        ...(env.DATABASE_URL ? { SIGNALPOST_MASTER_KEY: TEST_MASTER_KEY } : {}),
        ...env,
      }).filter(([, value]) => value !== undefined),
    ),
    stdio: ["ignore", "pipe", "pipe"],
    // In its own process group, like a server started from a terminal: `process.kill(-pid, "SIGINT")` is Ctrl-C.
    detached: options.detached ?? false,
  });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    for (const listener of listeners) listener();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const logs = () =>
    stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    logs,
    exited,
    waitForLog: (predicate, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = logs().find(predicate);
          if (found) {
            cleanup();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`log line not seen within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`));
        }, timeoutMs);
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`process exited (${code}) before the log line; stdout:\n${stdout}\nstderr:\n${stderr}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off("exit", onExit);
        };
        listeners.add(check);
        child.once("exit", onExit);
        check();
      }),
  };
}

/** Waits for the "serving" log line and returns the bound port. */
export async function servingPort(process: SignalpostProcess): Promise<number> {
  const line = await process.waitForLog((entry) => typeof entry.graphiql === "string");
  return line.port as number;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The Node options `npm start` gives the process (its heap caps), read from package.json's start script. */
export function startNodeArgs(): string[] {
  const start: string = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts.start;
  const words = start.split(/\s+/);
  return words.slice(words.indexOf("node") + 1, words.indexOf("dist/entry.js"));
}

/**
 * Builds what `npm start` runs and starts it on this test file's database with `npm start`'s heap caps, on a
 * loopback port: for tests of what the process survives (peak load, heap attacks, poison executions).
 */
export async function startCompiledServer(): Promise<{ server: SignalpostProcess; baseUrl: string }> {
  await promisify(execFile)(process.execPath, ["src/scripts/build.mjs"], { cwd: ROOT });
  const server = runSignalpost(
    ["serve"],
    { DATABASE_URL: process.env.DATABASE_URL, PORT: "0", HOST: "127.0.0.1", NODE_OPTIONS: startNodeArgs().join(" ") },
    COMPILED_ENTRY,
  );
  return { server, baseUrl: `http://127.0.0.1:${await servingPort(server)}` };
}
