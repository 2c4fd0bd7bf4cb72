import { type ParseArgsConfig, parseArgs } from "node:util";
import WebSocket from "ws";
import { createSignalpostClient, type SignalpostClient } from "../../clients/typescript/src/index.js";
import { parseGlobalId } from "../lib/ids.js";
import { UsageError } from "./usage-error.js";

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
  const given = (values.url as string | undefined) ?? env.SIGNALPOST_URL ?? "http://localhost:4000";
  if (!/^https?:\/\//.test(given) || !URL.canParse(given))
    throw new UsageError(`--url must be an http(s) URL (got "${given}")`);
  const url = serverBaseUrl(given);
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

/**
 * The server's base URL from what a user pastes: `http://host:4000`, `http://host:4000/` or the GraphQL address
 * `http://host:4000/graphql` (the SDK adds /graphql itself).
 */
export function serverBaseUrl(url: string): string {
  return url.replace(/\/+$/, "").replace(/\/graphql$/, "");
}

/** One page of a connection, as the list queries return it. */
interface Page<Node> {
  edges: { node: Node }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

/** Every node of a paginated list, 100 at a time. */
export async function allPages<Node>(load: (after: string | null) => Promise<Page<Node>>): Promise<Node[]> {
  const nodes: Node[] = [];
  let after: string | null = null;
  for (;;) {
    const page: Page<Node> = await load(after);
    nodes.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor ?? null;
  }
}

/**
 * An id from what the user typed: an id as it is, or a name looked up among `candidates` (loaded only for a name).
 * @throws Error (exit 1) when no object or several have that name, listing the names there are.
 */
export async function idFromNameOrId(
  kind: string,
  value: string,
  candidates: () => Promise<{ id: string; name: string }[]>,
): Promise<string> {
  // An id as the API prints it goes through as it is; anything else is a name.
  if (parseGlobalId(value)) return value;
  const all = await candidates();
  const matches = all.filter((item) => item.name === value);
  if (matches.length === 1) return (matches[0] as { id: string }).id;
  if (matches.length > 1)
    throw new Error(
      `${matches.length} ${kind}s are named "${value}"; give the id: ${matches.map((m) => m.id).join(", ")}`,
    );
  const names = all.map((item) => item.name);
  throw new Error(
    `no ${kind} with id or name "${value}"${names.length ? `; ${kind}s: ${names.slice(0, 20).join(", ")}${names.length > 20 ? ", ..." : ""}` : ""}`,
  );
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
