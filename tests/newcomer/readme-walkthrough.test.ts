import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWebhookSecret, signWebhook } from "../../src/lib/webhook-signature.js";
import { portBelowEphemeralRange } from "../support/ports.js";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { until } from "../support/wait.js";

// The README's walkthrough, run as a newcomer would: a fresh `signalpost serve` on an empty data directory, the key it
// prints, then every block marked `walkthrough` in README.md from top to bottom, in a directory of their own where
// `npx signalpost` is the checkout's CLI. Shell blocks run in bash with the variables earlier steps produced (blocks
// marked BACKGROUND keep running, as in a second terminal, and count as started once they print their `# =>` lines);
// GraphQL blocks are POSTed with the key (what GraphiQL does); JavaScript blocks are saved as their FILE. Two
// addresses differ from the README's: the server's port (any free one, not 4000, given to the CLI as SIGNALPOST_URL)
// and the receiver's (a free one, not 3000).

const README = fileURLToPath(new URL("../../README.md", import.meta.url));
const CLI = fileURLToPath(new URL("../../src/bin.mjs", import.meta.url));

/** One fenced block: ```<language> walkthrough [NAME=path.in.answer | FILE=name | BACKGROUND ...]. */
interface Snippet {
  language: string;
  /** Variables taken from a GraphQL answer: name -> dotted path into `data`. */
  captures: Record<string, string>;
  /** The file a JavaScript block is saved as. */
  file?: string;
  /** A command that keeps running (a server, `listen`). */
  background: boolean;
  code: string;
  line: number;
}

function walkthroughSnippets(readme: string): Snippet[] {
  const snippets: Snippet[] = [];
  for (const match of readme.matchAll(/^```(\w+) walkthrough((?: [A-Z_]+(?:=[\w.]+)?)*)\n([\s\S]*?)^```$/gm)) {
    const words = (match[2] ?? "").trim().split(" ").filter(Boolean);
    const { FILE: file, ...captures } = Object.fromEntries(
      words.filter((word) => word.includes("=")).map((pair) => pair.split("=") as [string, string]),
    );
    const line = readme.slice(0, match.index).split("\n").length;
    snippets.push({
      language: match[1] as string,
      captures,
      file,
      background: words.includes("BACKGROUND"),
      code: match[3] as string,
      line,
    });
  }
  return snippets;
}

function at(value: unknown, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value);
}

/** Typed error results (`... on Error { code message }`) anywhere in an answer: the walkthrough expects none. */
function errorResults(value: unknown, where = "data"): string[] {
  if (value === null || typeof value !== "object") return [];
  const record = value as Record<string, unknown>;
  if (typeof record.code === "string" && typeof record.message === "string") {
    return [`${where}: ${record.code} ${record.message} (${String(record.field)})`];
  }
  return Object.entries(record).flatMap(([key, child]) => errorResults(child, `${where}.${key}`));
}

/** A block left running, with everything it printed so far. */
interface Running {
  child: ChildProcess;
  output: () => string;
}

let server: SignalpostProcess;
let dataDir: string;
let workDir: string;
let port: number;
let receiverPort: number;
let adminKey: string;
const running: Running[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-walkthrough-"));
  // Readable by the embedded PostgreSQL's own user when the tests run as root (as the process tests do).
  await chmod(dataDir, 0o755);
  // The reader's directory: `npx signalpost` finds the CLI in node_modules/.bin, as in a clone or an install.
  workDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-walkthrough-work-"));
  await writeFile(path.join(workDir, "package.json"), '{ "private": true }\n');
  await mkdir(path.join(workDir, "node_modules", ".bin"), { recursive: true });
  await symlink(CLI, path.join(workDir, "node_modules", ".bin", "signalpost"));
  receiverPort = await portBelowEphemeralRange();
  server = runSignalpost(["serve"], { SIGNALPOST_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" });
  port = await servingPort(server);
  adminKey = /^ {4}(sp_[0-9a-f]{32}_[A-Za-z0-9_-]{43})$/m.exec(server.stdout())?.[1] ?? "";
}, 90_000);

afterAll(async () => {
  for (const { child } of running) {
    if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
  }
  server?.child.kill("SIGTERM");
  await server?.exited;
  for (const dir of [dataDir, workDir]) if (dir) await rm(dir, { recursive: true, force: true });
});

/** The README's addresses, pointed at this test's server and receiver. */
function localised(code: string): string {
  return code
    .replaceAll("localhost:3000", `127.0.0.1:${receiverPort}`)
    .replaceAll("listen(3000,", `listen(${receiverPort},`)
    .replaceAll("localhost:4000", `127.0.0.1:${port}`);
}

/** The `# =>` lines of a shell block: what its output contains. */
function expectations(code: string): string[] {
  return [...code.matchAll(/^# => (.+)$/gm)].map((match) => match[1] as string);
}

async function graphql(query: string): Promise<{ data?: unknown; errors?: unknown[] }> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: unknown; errors?: unknown[] };
}

describe("the README walkthrough", () => {
  it("runs top to bottom: a delivered and verified webhook, an inbound webhook executed and relayed to this machine", async () => {
    // The first start prints the admin key, and where the master key is to be backed up.
    expect(adminKey).not.toBe("");
    expect(server.stdout()).toContain(`Back up the master key in ${path.join(dataDir, "master-key")}`);

    const snippets = walkthroughSnippets(await readFile(README, "utf8"));
    expect(snippets.map((snippet) => `${snippet.language}${snippet.background ? " (background)" : ""}`)).toEqual([
      "sh",
      "graphql",
      "js",
      "js",
      "sh (background)",
      "graphql",
      "graphql",
      "sh (background)",
      "sh",
    ]);

    const variables: Record<string, string> = { SIGNALPOST_API_KEY: adminKey };
    const shellEnv = () => ({ ...process.env, ...variables, SIGNALPOST_URL: `http://127.0.0.1:${port}` });
    for (const snippet of snippets) {
      const step = `README.md line ${snippet.line} (${snippet.language})`;
      const code = localised(snippet.code);
      if (snippet.language === "sh" && snippet.background) {
        // Its own process group, so that the command and whatever it starts stop together at the end.
        const child = spawn("bash", ["-euo", "pipefail", "-c", code], {
          cwd: workDir,
          env: shellEnv(),
          detached: true,
        });
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString("utf8");
        });
        child.stderr.on("data", (chunk: Buffer) => {
          output += chunk.toString("utf8");
        });
        running.push({ child, output: () => output });
        await until(
          async () => ({ output, exitCode: child.exitCode }),
          (state) => state.exitCode !== null || expectations(code).every((line) => state.output.includes(line)),
          `${step} to start`,
          60_000,
        );
        expect(child.exitCode, `${step}: ${output}`).toBeNull();
      } else if (snippet.language === "sh") {
        const run = spawnSync("bash", ["-euo", "pipefail", "-c", code], {
          cwd: workDir,
          env: shellEnv(),
          encoding: "utf8",
          timeout: 20_000,
        });
        expect(run.status, `${step}: ${run.stderr}`).toBe(0);
        for (const expected of expectations(code)) expect(run.stdout, step).toContain(expected);
      } else if (snippet.language === "graphql") {
        const answer = await graphql(code);
        expect(answer.errors, step).toBeUndefined();
        expect(errorResults(answer.data), step).toEqual([]);
        for (const [name, dotted] of Object.entries(snippet.captures)) {
          const value = at(answer.data, dotted);
          expect(typeof value, `${step}: ${dotted}`).toBe("string");
          variables[name] = value as string;
        }
      } else if (snippet.language === "js" && snippet.file) {
        await writeFile(path.join(workDir, snippet.file), code);
      } else {
        throw new Error(`${step}: no way to run a ${snippet.language} block`);
      }
    }

    // The receiver verified the published order and the event the agent emitted, and printed the relayed request.
    const receiver = running[0] as Running;
    const printed = await until(
      async () => receiver.output(),
      (output) => output.includes("verified ticket.opened") && output.includes("relayed "),
      "the receiver to print the agent's event and its relayed request",
      30_000,
    );
    expect(printed).toMatch(/^verified order\.created msg_\S+ \{"orderId":42\}$/m);
    expect(printed).toMatch(/^verified ticket\.opened msg_\S+ \{"title":"printer on fire","ticketId":7\}$/m);
    expect(printed).toContain('relayed {"ticket":{"id":7,"subject":"printer on fire"}}');
    expect(printed).not.toContain("refused");

    // The README's verify() accepts what Signalpost signs, and only with the right secret.
    const { verify } = (await import(pathToFileURL(path.join(workDir, "verify.mjs")).href)) as {
      verify: (rawBody: Buffer, headers: Record<string, string>, secret: string) => boolean;
    };
    const secret = generateWebhookSecret();
    const body = Buffer.from('{"type":"order.created","data":{"orderId":42}}');
    const headers = { ...signWebhook({ msgId: "msg_1", timestamp: new Date(), body, secrets: [secret] }) };
    expect(verify(body, headers, secret)).toBe(true);
    expect(verify(body, headers, generateWebhookSecret())).toBe(false);

    // The inbound webhook's execution ended SUCCEEDED.
    type Executions = { agentExecutions: { edges: { node: { status: string; error: string | null } }[] } };
    const executions = await until(
      async () =>
        (await graphql(`{ agentExecutions(agentId: "${variables.AGENT_ID}") { edges { node { status error } } } }`))
          .data as Executions,
      (data) => data?.agentExecutions.edges[0]?.node.status === "SUCCEEDED",
      "the agent's execution to succeed",
    );
    expect(executions.agentExecutions.edges).toHaveLength(1);
  }, 180_000);
});
