import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createSignalpostClient, type RelayedWebhook, relayedWebhooks } from "@signalpost/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { type ReceivedRequest, TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

// The README's walkthrough, run as a newcomer would: a fresh `signalpost serve` on an empty data directory, the key it
// prints, then every block marked `walkthrough` in README.md from top to bottom. Shell blocks run in bash with the
// variables earlier steps produced; GraphQL blocks are POSTed with the key (what GraphiQL does); JavaScript blocks are
// loaded as modules. Two addresses differ from the README's: the server's port (any free one, not 4000) and the
// receiver (this test's, standing in for the reader's own on port 3000).

const README = fileURLToPath(new URL("../../README.md", import.meta.url));

/** One fenced block: ```<language> walkthrough [NAME=path.in.answer ...]. */
interface Snippet {
  language: string;
  /** Variables taken from a GraphQL answer: name -> dotted path into `data`. */
  captures: Record<string, string>;
  code: string;
  line: number;
}

function walkthroughSnippets(readme: string): Snippet[] {
  const snippets: Snippet[] = [];
  for (const match of readme.matchAll(/^```(\w+) walkthrough((?: [A-Z_]+=[\w.]+)*)\n([\s\S]*?)^```$/gm)) {
    const captures = Object.fromEntries(
      (match[2] ?? "")
        .trim()
        .split(" ")
        .filter(Boolean)
        .map((pair) => pair.split("=") as [string, string]),
    );
    const line = readme.slice(0, match.index).split("\n").length;
    snippets.push({ language: match[1] as string, captures, code: match[3] as string, line });
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

let server: SignalpostProcess;
let receiver: TestReceiver;
let dataDir: string;
let port: number;
let adminKey: string;
const stopListening = new AbortController();

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-walkthrough-"));
  // Readable by the embedded PostgreSQL's own user when the tests run as root (as the process tests do).
  await chmod(dataDir, 0o755);
  receiver = await TestReceiver.start();
  server = runSignalpost(["serve"], { SIGNALPOST_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" });
  port = await servingPort(server);
  adminKey = /^ {4}(sp_[0-9a-f]{32}_[A-Za-z0-9_-]{43})$/m.exec(server.stdout())?.[1] ?? "";
}, 90_000);

afterAll(async () => {
  stopListening.abort();
  server?.child.kill("SIGTERM");
  await server?.exited;
  await receiver?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/**
 * What `signalpost listen --agent <id>` does on a developer's laptop: subscribes to the agent's relayed webhooks
 * through the SDK. Resolves once the subscription is live, with the first relayed request still to come.
 */
async function listenToAgent(agentId: string): Promise<{ first: Promise<RelayedWebhook | undefined> }> {
  const client = createSignalpostClient({ url: `http://127.0.0.1:${port}`, token: adminKey, webSocketImpl: WebSocket });
  let markLive: () => void = () => undefined;
  const live = new Promise<void>((resolve) => {
    markLive = resolve;
  });
  const feed = relayedWebhooks(
    client,
    agentId,
    {},
    { signal: stopListening.signal, onStatus: (status) => status === "live" && markLive() },
  );
  const first = feed.next().then((result) => (result.done ? undefined : result.value));
  await live;
  return { first };
}

/** The README's addresses, pointed at this test's server and receiver. */
function localised(code: string): string {
  return code.replaceAll("http://localhost:3000/hook", receiver.url).replaceAll("localhost:4000", `127.0.0.1:${port}`);
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
  it("runs top to bottom: a delivered and verified webhook, an inbound webhook accepted and executed", async () => {
    // The first start prints the admin key, and where the master key is to be backed up.
    expect(adminKey).not.toBe("");
    expect(server.stdout()).toContain(`Back up the master key in ${path.join(dataDir, "master-key")}`);

    const snippets = walkthroughSnippets(await readFile(README, "utf8"));
    expect(snippets.map((snippet) => snippet.language)).toEqual(["sh", "graphql", "graphql", "js", "graphql", "sh"]);

    const variables: Record<string, string> = { SIGNALPOST_API_KEY: adminKey };
    let verify: ((rawBody: Buffer, headers: unknown, secret: string) => boolean) | undefined;
    let listener: { first: Promise<RelayedWebhook | undefined> } | undefined;
    for (const snippet of snippets) {
      const step = `README.md line ${snippet.line} (${snippet.language})`;
      const code = localised(snippet.code);
      if (snippet.language === "sh") {
        const run = spawnSync("bash", ["-euo", "pipefail", "-c", code], {
          env: { ...process.env, ...variables },
          encoding: "utf8",
          timeout: 20_000,
        });
        expect(run.status, `${step}: ${run.stderr}`).toBe(0);
        for (const [, expected] of code.matchAll(/^# => (.+)$/gm)) {
          expect(run.stdout, step).toContain(expected);
        }
      } else if (snippet.language === "graphql") {
        const answer = await graphql(code);
        expect(answer.errors, step).toBeUndefined();
        expect(errorResults(answer.data), step).toEqual([]);
        for (const [name, dotted] of Object.entries(snippet.captures)) {
          const value = at(answer.data, dotted);
          expect(typeof value, `${step}: ${dotted}`).toBe("string");
          variables[name] = value as string;
        }
        // The agent exists: a developer starts `signalpost listen --agent <id>` before the webhook arrives.
        if (variables.AGENT_ID && !listener) listener = await listenToAgent(variables.AGENT_ID);
      } else if (snippet.language === "js") {
        const file = path.join(dataDir, `step-${snippet.line}.mjs`);
        await writeFile(file, code);
        ({ verify } = (await import(pathToFileURL(file).href)) as { verify: typeof verify });
      } else {
        throw new Error(`${step}: no way to run a ${snippet.language} block`);
      }
    }

    // The receiver got the published order and the event the agent emitted, each verified as the README verifies.
    const requests = await receiver.waitForRequests(2, 30_000);
    const byType = (type: string) =>
      requests.find((request) => (JSON.parse(request.body.toString()) as { type: string }).type === type);
    const order = byType("order.created") as ReceivedRequest;
    const ticket = byType("ticket.opened") as ReceivedRequest;
    expect(JSON.parse(order.body.toString()).data).toEqual({ orderId: 42 });
    expect(JSON.parse(ticket.body.toString()).data).toEqual({ ticketId: 7, title: "printer on fire" });
    const secret = variables.ENDPOINT_SECRET as string;
    expect(verify?.(order.body, order.headers, secret)).toBe(true);
    expect(verify?.(ticket.body, ticket.headers, secret)).toBe(true);
    expect(verify?.(order.body, order.headers, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")).toBe(false);

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

    // Its relay action handed the request, body and signature headers intact, to the listener.
    const relayed = await listener?.first;
    expect(relayed?.body).toBe('{"ticket":{"id":7,"subject":"printer on fire"}}');
    expect(relayed?.headers).toMatchObject({ "x-hub-signature-256": expect.stringMatching(/^sha256=[0-9a-f]{64}$/) });
  }, 120_000);
});
