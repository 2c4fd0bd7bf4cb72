/**
 * A bounded fault soak (`npm run soak -- --duration 120s`): an api and a worker process on a PostgreSQL cluster that
 * this script starts (and supervises with the same supervisor Signalpost uses for its embedded one), publishers
 * posting continuously to the api, and a local receiver. At random moments the worker process is SIGKILLed (and
 * started again) and the postmaster is SIGKILLed (and restarted by the supervisor), a bounded number of times each.
 * Then it waits for the queue to drain and prints acknowledged, delivered, lost (must be 0), duplicates (all with the
 * same webhook-id) and the longest outage a publisher saw. Exits 1 when anything acknowledged was lost.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ensureDatabase } from "../../src/db/database.js";
import { EmbeddedPostgres, freePort } from "../../src/db/embedded-postgres.js";
import { logger } from "../../src/logger.js";

const BIN = fileURLToPath(new URL("../../src/bin.mjs", import.meta.url));
const MASTER_KEY = `soak:${Buffer.alloc(32, 7).toString("base64")}`;

function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`--duration: "${text}" is not a duration such as 90s or 2m`);
  const value = Number(match[1]);
  return match[2] === "ms" ? value : match[2] === "m" ? value * 60_000 : value * 1_000;
}

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "120s" },
    "worker-kills": { type: "string", default: "3" },
    "database-kills": { type: "string", default: "3" },
    publishers: { type: "string", default: "4" },
  },
});
const durationMs = parseDuration(values.duration);
const workerKills = Number(values["worker-kills"]);
const databaseKills = Number(values["database-kills"]);
const publishers = Number(values.publishers);

const log = (message: string) => process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/** The receiver: every webhook's number and webhook-id. */
const received = new Map<number, Set<string>>();
let receipts = 0;
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data: { n: number } };
    const ids = received.get(body.data.n) ?? new Set<string>();
    ids.add(String(req.headers["webhook-id"]));
    received.set(body.data.n, ids);
    receipts += 1;
    res.end("ok");
  });
});

function serve(role: "api" | "worker", databaseUrl: string, port: number): ChildProcess {
  const child = spawn(process.execPath, [BIN, "serve", "--role", role], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      SIGNALPOST_MASTER_KEY: MASTER_KEY,
      PORT: String(port),
      HOST: "127.0.0.1",
      SIGNALPOST_ALLOW_INSECURE_URLS: "true",
      SIGNALPOST_METRICS_ENABLED: "false",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return child;
}

async function graphql<T>(port: number, headers: Record<string, string>, query: string, variables = {}) {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, ...((await response.json()) as { data?: T; errors?: unknown[] }) };
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<number> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-soak-"));
  await chmod(dataDir, 0o755);
  const quiet = logger.child({});
  quiet.level = "silent";
  const cluster = new EmbeddedPostgres({ dataDir, logger: quiet, port: await freePort() });
  let databaseDown: number | undefined;
  const databaseOutages: number[] = [];
  let gaveUp: Error | undefined;
  await cluster.start();
  cluster.supervise({
    down: () => {
      databaseDown = Date.now();
    },
    up: (downMs) => {
      databaseOutages.push(downMs);
      databaseDown = undefined;
    },
    gaveUp: (error) => {
      gaveUp = error;
    },
  });
  await ensureDatabase(cluster.url("postgres"), "signalpost");
  const databaseUrl = cluster.url("signalpost");
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const apiPort = await freePort();
  const api = serve("api", databaseUrl, apiPort);
  let worker = serve("worker", databaseUrl, 0);
  const children = () => [api, worker];
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${apiPort}/readyz`)).status === 200, "the api");
    const keys = spawn(
      process.execPath,
      [BIN, "keys", "create", "--tenant", "soak", "--name", "soak", "--scopes", "admin", "--json"],
      {
        env: { ...process.env, DATABASE_URL: databaseUrl, SIGNALPOST_MASTER_KEY: MASTER_KEY, LOG_LEVEL: "warn" },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let keyOutput = "";
    keys.stdout?.on("data", (chunk: Buffer) => {
      keyOutput += chunk.toString("utf8");
    });
    await new Promise((resolve) => keys.once("exit", resolve));
    const headers = { "x-api-key": (JSON.parse(keyOutput) as { key: string }).key };
    await graphql(apiPort, headers, `mutation { createEventType(input: { name: "soak.tick" }) { __typename } }`);
    const endpoint = await graphql<{ createEndpoint: { __typename: string } }>(
      apiPort,
      headers,
      `mutation ($url: String!) { createEndpoint(input: { name: "soak", url: $url,
        retryPolicy: { delaysSeconds: [1], maxAttempts: 31 } }) { __typename } }`,
      { url: receiverUrl },
    );
    if (endpoint.data?.createEndpoint.__typename !== "CreatedEndpoint") throw new Error(JSON.stringify(endpoint));

    // Publishers: one request at a time each; acknowledged = answered with a PublishedEvent.
    const acknowledged = new Set<number>();
    let refused = 0;
    let longestOutageMs = 0;
    let next = 0;
    let publishing = true;
    const publisher = async () => {
      let failingSince: number | undefined;
      while (publishing) {
        const n = next++;
        const answer = await graphql<{ publishEvent: { __typename: string } }>(
          apiPort,
          headers,
          `mutation ($n: Int!) { publishEvent(input: { eventType: "soak.tick", payload: { n: $n } }) { __typename } }`,
          { n },
        ).catch(() => undefined);
        if (answer?.data?.publishEvent?.__typename === "PublishedEvent") {
          acknowledged.add(n);
          if (failingSince !== undefined) longestOutageMs = Math.max(longestOutageMs, Date.now() - failingSince);
          failingSince = undefined;
        } else {
          refused += 1;
          failingSince ??= Date.now();
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    const running = Array.from({ length: publishers }, publisher);

    // The faults, at random moments between 10 % and 80 % of the run, in order.
    const faults = [
      ...Array.from({ length: workerKills }, () => "worker" as const),
      ...Array.from({ length: databaseKills }, () => "database" as const),
    ]
      .map((kind) => ({ kind, at: durationMs * (0.1 + Math.random() * 0.7) }))
      .sort((a, b) => a.at - b.at);
    const started = Date.now();
    for (const fault of faults) {
      const wait = started + fault.at - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (fault.kind === "worker") {
        log(`SIGKILL the worker (pid ${worker.pid})`);
        worker.kill("SIGKILL");
        await new Promise((resolve) => worker.once("exit", resolve));
        worker = serve("worker", databaseUrl, 0);
      } else {
        // One database fault at a time: a kill while the supervisor is still restarting it would not be a new fault.
        await waitFor(async () => databaseDown === undefined, "the database to be back", 60_000);
        const pid = Number((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
        log(`SIGKILL the postmaster (pid ${pid})`);
        process.kill(pid, "SIGKILL");
      }
      if (gaveUp) throw gaveUp;
    }
    const left = started + durationMs - Date.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    publishing = false;
    await Promise.all(running);
    log(`published for ${Math.round((Date.now() - started) / 1000)} s; waiting for the queue to drain`);
    await waitFor(
      async () => [...acknowledged].every((n) => received.has(n)),
      "every acknowledged event at the receiver",
      180_000,
    ).catch((error: Error) => log(error.message));

    const delivered = [...acknowledged].filter((n) => received.has(n)).length;
    const lost = acknowledged.size - delivered;
    const duplicates = receipts - received.size;
    const mixedIds = [...received.values()].filter((ids) => ids.size > 1).length;
    const summary = {
      durationSeconds: Math.round(durationMs / 1000),
      workerKills,
      databaseKills,
      acknowledged: acknowledged.size,
      refusedWhileDown: refused,
      delivered,
      lost,
      duplicates,
      duplicatesWithAnotherWebhookId: mixedIds,
      longestPublishOutageMs: longestOutageMs,
      databaseRestartsMs: databaseOutages,
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return lost > 0 || mixedIds > 0 ? 1 : 0;
  } finally {
    for (const child of children()) child.kill("SIGTERM");
    await Promise.all(
      children().map((child) =>
        child.exitCode === null && child.signalCode === null
          ? new Promise((resolve) => child.once("exit", resolve))
          : undefined,
      ),
    );
    await cluster.stop();
    receiver.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
