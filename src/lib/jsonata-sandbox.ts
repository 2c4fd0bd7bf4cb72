import { type ChildProcess, fork } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { EvaluationLimits, SandboxReply, SandboxRequest } from "./jsonata-sandbox.protocol.js";

/**
 * Why a sandboxed evaluation failed. The first three are the expression's own doing and come out the same however
 * often it runs; TRANSFORM_FAILED is JSONata's error (a type error, a stack overflow); TRANSFORM_CRASHED is a child
 * that died some other way.
 */
export type TransformFailureCode =
  | "TRANSFORM_MEMORY_LIMIT"
  | "TRANSFORM_TIMEOUT"
  | "TRANSFORM_RESULT_TOO_LARGE"
  | "TRANSFORM_FAILED"
  | "TRANSFORM_CRASHED";

/** The failures a second run would only repeat, at the same cost: the limits, not the moment, decided them. */
const UNRETRYABLE: ReadonlySet<TransformFailureCode> = new Set([
  "TRANSFORM_MEMORY_LIMIT",
  "TRANSFORM_TIMEOUT",
  "TRANSFORM_RESULT_TOO_LARGE",
]);

/** A sandboxed evaluation that failed; the message starts with the code, so a stored error says it by itself. */
export class TransformError extends Error {
  /** False for a limit the expression broke: running it again would break it again. */
  readonly retryable: boolean;

  constructor(
    readonly code: TransformFailureCode,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = "TransformError";
    this.retryable = !UNRETRYABLE.has(code);
  }
}

export interface SandboxOptions extends EvaluationLimits {
  /** Child processes at most (each runs one evaluation at a time). */
  size: number;
  /** The V8 heap limit of each child (--max-old-space-size). */
  heapMb: number;
  /**
   * Wall-clock limit on one evaluation, after which its child is killed: the backstop for what JSONata's own time
   * limit cannot interrupt (one native call such as `$string` of a huge array, a catastrophic regular expression).
   */
  killAfterMs: number;
  /** How long a child may take to start before the evaluation waiting for it fails (tsx compiles from sources). */
  startTimeoutMs?: number;
}

// Worker threads (node:worker_threads with resourceLimits) were the first choice, but their heap limit is best
// effort: one large allocation past it aborts the whole process instead of the thread (nodejs/node#47224; measured
// here on Node 20.20: `[1..10000000]` in a thread limited to 64 MB killed the parent with "Reached heap limit").
// A child process's heap limit is a hard one: its abort ends the child only.
const here = import.meta.url;
const fromSources = here.endsWith(".ts");
/** From sources (tsx, vitest) the child is TypeScript too, loaded through tsx; the build (src/scripts/build.mjs) compiles it next to this file. */
const CHILD_ENTRY = fileURLToPath(new URL(`./jsonata-sandbox.child.${fromSources ? "ts" : "js"}`, here));
const CHILD_LOADER = fromSources ? ["--import", pathToFileURL(createRequire(here).resolve("tsx")).href] : [];
/** Only what node (and tsx's cache) need: an expression is the tenant's code, it gets none of our secrets. */
const CHILD_ENVIRONMENT = ["PATH", "TMPDIR", "TMP", "TEMP", "SYSTEMROOT"];
const STDERR_TAIL_CHARS = 4_000;

interface Child {
  process: ChildProcess;
  /** The end of its stderr: V8 says "heap out of memory" there before aborting. */
  stderr: string;
  exited: boolean;
}

/**
 * A small pool of child processes that evaluate JSONata expressions under a heap limit, a time limit and a result
 * size limit. Children are started on demand, reused, and replaced when one is killed or dies; idle ones do not keep
 * the parent alive, and they exit when the parent goes away.
 *
 * Cost of the hop (tests/bench/transform-sandbox.ts, Node 20.20, the README's example transform on a 1 KB payload,
 * one at a time): 0.21 ms per evaluation through the sandbox, against 0.19 ms for what runTransform did before
 * (compile and evaluate in-process) and 0.013 ms evaluating an already compiled expression in-process; children keep
 * expressions compiled, so the hop is the ~0.2 ms of two IPC messages. A child takes ~0.2 s to start and 55 to 70 MB
 * resident (~90 MB from sources, with tsx's loader).
 */
export class JsonataSandbox {
  private readonly idle: Child[] = [];
  private readonly children = new Set<Child>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private nextId = 1;
  private stopped = false;

  constructor(private readonly options: SandboxOptions) {}

  /**
   * Evaluates `expression` on `input` (JSON-serialisable) in a child process.
   * @throws TransformError with the reason it failed.
   */
  async evaluate(expression: string, input: unknown): Promise<unknown> {
    const request: SandboxRequest = {
      id: this.nextId++,
      expression,
      input: JSON.stringify(input ?? null),
      limits: {
        timeoutMs: this.options.timeoutMs,
        stack: this.options.stack,
        maxResultChars: this.options.maxResultChars,
      },
    };
    await this.acquire();
    try {
      const child = this.idle.pop() ?? (await this.start());
      try {
        const json = await this.run(child, request);
        return json === undefined ? undefined : JSON.parse(json);
      } finally {
        // A child that answered, with a result or with the expression's own error, is healthy and goes back to the
        // pool: leaving it out once leaked one live process per failed transform. Killed or dead ones do not.
        if (!child.exited && !child.process.killed && !this.stopped) this.idle.push(child);
      }
    } finally {
      this.release();
    }
  }

  /** Child processes alive now (at most `size` once evaluations settle). */
  get processCount(): number {
    return this.children.size;
  }

  /** Kills the children; evaluations under way fail with TRANSFORM_CRASHED. */
  stop(): void {
    this.stopped = true;
    this.idle.length = 0;
    for (const child of this.children) child.process.kill("SIGKILL");
  }

  private async acquire(): Promise<void> {
    if (this.running < this.options.size) {
      this.running += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so `running` stays the same.
    if (next) next();
    else this.running -= 1;
  }

  private start(): Promise<Child> {
    const env = Object.fromEntries(
      CHILD_ENVIRONMENT.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]])),
    );
    const spawned = fork(CHILD_ENTRY, [], {
      execArgv: [...CHILD_LOADER, `--max-old-space-size=${this.options.heapMb}`],
      env,
      serialization: "advanced",
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    const child: Child = { process: spawned, stderr: "", exited: false };
    this.children.add(child);
    spawned.stderr?.setEncoding("utf8");
    spawned.stderr?.on("data", (chunk: string) => {
      child.stderr = (child.stderr + chunk).slice(-STDERR_TAIL_CHARS);
    });
    // A failed fork (EAGAIN, EMFILE) or a send on a closed channel is an "error" event: without a listener it would be
    // thrown, and end the worker the sandbox is there to protect. The child is dropped; its evaluation fails below.
    spawned.on("error", () => {
      child.exited = true;
      this.children.delete(child);
      const index = this.idle.indexOf(child);
      if (index >= 0) this.idle.splice(index, 1);
      spawned.kill("SIGKILL");
    });
    spawned.once("exit", () => {
      child.exited = true;
      this.children.delete(child);
      const index = this.idle.indexOf(child);
      if (index >= 0) this.idle.splice(index, 1);
    });
    // Idle children must not keep the parent's event loop alive.
    spawned.unref();
    spawned.channel?.unref();
    (spawned.stderr as { unref?: () => void } | null)?.unref?.();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        spawned.kill("SIGKILL");
        reject(new TransformError("TRANSFORM_CRASHED", "the sandbox process did not start in time"));
      }, this.options.startTimeoutMs ?? 30_000);
      spawned.once("message", () => {
        clearTimeout(timer);
        resolve(child);
      });
      spawned.once("error", (error) => {
        clearTimeout(timer);
        reject(new TransformError("TRANSFORM_CRASHED", `the sandbox process could not start (${error.message})`));
      });
      spawned.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new TransformError("TRANSFORM_CRASHED", `the sandbox process exited at start (${signal ?? code})`));
      });
    });
  }

  private run(child: Child, request: SandboxRequest): Promise<string | undefined> {
    const { process: spawned } = child;
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        spawned.off("message", onMessage);
        spawned.off("close", onClose);
        outcome();
      };
      const onMessage = (reply: SandboxReply) => {
        if (reply.id !== request.id) return;
        settle(() => (reply.ok ? resolve(reply.json) : reject(new TransformError(reply.code, reply.message))));
      };
      // "close" rather than "exit": it comes once stderr is read to its end, where V8's last words are.
      const onClose = (code: number | null, signal: NodeJS.Signals | null) => {
        const outOfMemory = /heap out of memory|Allocation failed/.test(child.stderr);
        settle(() =>
          reject(
            outOfMemory
              ? new TransformError("TRANSFORM_MEMORY_LIMIT", `the transform used more than ${this.options.heapMb} MB`)
              : new TransformError("TRANSFORM_CRASHED", `the sandbox process exited (${signal ?? code})`),
          ),
        );
      };
      const timer = setTimeout(() => {
        settle(() => {
          spawned.kill("SIGKILL");
          reject(
            new TransformError("TRANSFORM_TIMEOUT", `the transform ran longer than ${this.options.killAfterMs} ms`),
          );
        });
      }, this.options.killAfterMs);
      spawned.on("message", onMessage);
      spawned.once("close", onClose);
      spawned.send(request, (error) => {
        if (error) {
          settle(() =>
            reject(new TransformError("TRANSFORM_CRASHED", `the sandbox process is gone (${error.message})`)),
          );
        }
      });
    });
  }
}
