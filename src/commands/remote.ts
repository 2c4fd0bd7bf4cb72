import { type ParseArgsConfig, parseArgs } from "node:util";
import WebSocket from "ws";
import { createSignalpostClient, type SignalpostClient } from "../../clients/typescript/src/index.js";
import { UsageError } from "./keys.js";

/**
 * What the commands that talk to a running server share: `--url` and `--key` (or SIGNALPOST_URL and
 * SIGNALPOST_API_KEY), `--json` for scripts, and output helpers that keep stdout for results and stderr for progress.
 */
export const REMOTE_OPTIONS = {
  url: { type: "string" },
  key: { type: "string" },
  json: { type: "boolean", default: false },
} as const satisfies ParseArgsConfig["options"];

export interface Remote {
  client: SignalpostClient;
  json: boolean;
  /** One result: a JSON line with --json, else the human line. */
  print(human: string, data: unknown): void;
  /** Progress and notices, on stderr so that stdout stays parseable. */
  note(message: string): void;
}

export function parseRemote<Options extends ParseArgsConfig["options"]>(
  args: string[],
  options: Options,
  env: NodeJS.ProcessEnv = process.env,
) {
  const parsed = parseArgs({ args, options: { ...REMOTE_OPTIONS, ...options }, allowPositionals: true, strict: true });
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const url = (values.url as string | undefined) ?? env.SIGNALPOST_URL ?? "http://localhost:4000";
  if (!/^https?:\/\//.test(url) || !URL.canParse(url))
    throw new UsageError(`--url must be an http(s) URL (got "${url}")`);
  const key = (values.key as string | undefined) ?? env.SIGNALPOST_API_KEY;
  if (!key) throw new UsageError("an API key is needed: pass --key or set SIGNALPOST_API_KEY");
  const json = values.json === true;
  const remote: Remote = {
    client: createSignalpostClient({ url, token: key, webSocketImpl: WebSocket }),
    json,
    print: (human, data) => process.stdout.write(`${json ? JSON.stringify(data) : human}\n`),
    note: (message) => process.stderr.write(`${message}\n`),
  };
  return { remote, values, positionals: parsed.positionals };
}

/** A typed error result (`... on Error`) turned into a thrown error, so commands exit non-zero with its message. */
export class ResultError extends Error {
  constructor(result: { code?: string; message?: string; field?: string | null }) {
    super(`${result.code ?? "ERROR"}: ${result.message ?? "failed"}${result.field ? ` (${result.field})` : ""}`);
    this.name = "ResultError";
  }
}

/** Returns the result when its __typename is the success type, else throws its error. */
export function expectResult<Result extends { __typename?: string }, Success extends string>(
  result: Result,
  success: Success,
): Extract<Result, { __typename?: Success }> {
  if (result.__typename === success) return result as Extract<Result, { __typename?: Success }>;
  throw new ResultError(result as { code?: string; message?: string; field?: string });
}
