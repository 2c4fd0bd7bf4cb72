/**
 * `npm run bench [-- --quick]`: end-to-end delivery throughput and latency against the machine's own ceiling, all
 * measured in one run so the ratios are fair. Starts Signalpost (embedded PostgreSQL unless DATABASE_URL is set) and a
 * receiver, each in its own process, then:
 *   1. ceiling:    signed POSTs straight from undici to the receiver at the worker's concurrency
 *   2. throughput: events published in batches, fanned out to K endpoints, until the receiver has every delivery
 *      then the same number of signed POSTs through pg-boss alone (pgboss-baseline.ts), for the same-run ratio
 *   3. latency:    events published at a fixed rate; publish-to-receipt p50/p95/p99 (--latency-only: this alone)
 *   4. inbound:    signed POSTs to an agent's URL at full speed; accepted/s and executions completed/s
 *   5. scale:      throughput again with 10k and with a larger backlog of deliveries waiting in the queue
 *   6. subscriptions: N eventPublished subscribers over WebSockets, M events at R/s (subscriptions.ts; env
 *                  BENCH_SUBSCRIBERS, BENCH_SUBSCRIPTION_EVENTS, BENCH_SUBSCRIPTION_RATE), 1,000 x 50 at 10/s and
 *                  then, in the full run without BENCH_SUBSCRIBERS, 10,000 x 20 at 2/s; --subscriptions-only runs
 *                  this phase alone; each followed by its WebSocket floor (ws-floor-server.ts)
 *   7. patterns:   a catastrophic JSON Schema pattern on RE2 (ours) against V8's backtracking engine, in this process
 * Prints a table, then one JSON line.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { Agent, request } from "undici";
import { generateWebhookSecret, signWebhook, verifyStandardWebhook } from "../../src/lib/webhook-signature.js";
import { scheduleWakeUps } from "../../src/modules/deliveries/delivery-wake-ups.js";
import { uuidOf } from "../support/ids.js";
import { startNodeArgs } from "../support/process.js";
import { readCpu, shares } from "./cpu.js";
import { runPatternPhase } from "./schema-patterns.js";
import {
  largeSubscriptionPlan,
  runSubscriptionPhase,
  type SubscriptionFigures,
  type SubscriptionPlan,
  subscriptionPlan,
} from "./subscriptions.js";

const quick = process.argv.includes("--quick");
/** --split runs the API and the delivery worker as two processes (roles api and worker), as a deployment would. */
const split = process.argv.includes("--split");
const subscriptionsOnly = process.argv.includes("--subscriptions-only");
/** --latency-only runs the single-publish latency phases alone (after setup), for profiling the publish path. */
const latencyOnly = process.argv.includes("--latency-only");
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** What `npm start` runs: the compiled build (made at the start of the run), with the same Node options. */
const ENTRY = "dist/entry.js";
const START_NODE_ARGS = startNodeArgs();
const K = 5;
const CONCURRENCY = 64;
const plan = quick
  ? {
      ceilingPosts: 5_000,
      events: 2_000,
      latencyRate: 200,
      latencySeconds: 5,
      /** A second, lower rate, measured after the target one: latency below saturation. */
      steadyRate: undefined as number | undefined,
      inbound: 2_000,
      backlogs: [10_000, 50_000],
    }
  : {
      ceilingPosts: 30_000,
      events: 10_000,
      latencyRate: 1_000,
      latencySeconds: 10,
      steadyRate: 500 as number | undefined,
      inbound: 10_000,
      backlogs: [10_000, 200_000],
    };

interface Started {
  child: ChildProcess;
  lines: string[];
}

function start(args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  let buffer = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    lines.push(...parts);
  });
  return { child, lines };
}

/** Polls `find` until it has a value; fails at once if `child` (the process that should print it) has exited. */
async function waitFor<T>(
  find: () => T | undefined,
  what: string,
  timeoutMs = 60_000,
  child?: ChildProcess,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (child && child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}) before printing it`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const json = (line: string) => {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function main() {
  await promisify(execFile)(process.execPath, ["src/scripts/build.mjs"], { cwd: ROOT });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-bench-"));
  const { chmod } = await import("node:fs/promises");
  await chmod(dataDir, 0o755);
  const processes: ChildProcess[] = [];
  let maxRss = 0;
  try {
    // The receiver.
    const receiverProcess = start(["--import", "tsx", "tests/bench/receiver.ts"], {});
    processes.push(receiverProcess.child);
    const receiverPort = await waitFor(
      () => receiverProcess.lines.map(json).find((line) => line?.port)?.port as number | undefined,
      "receiver",
    );
    const receiverUrl = `http://127.0.0.1:${receiverPort}`;
    const stats = async () =>
      (await (await fetch(`${receiverUrl}/stats`)).json()) as {
        received: number;
        latencies: number[];
        samples: { headers: Record<string, string>; body: string }[];
      };
    const reset = () => fetch(`${receiverUrl}/reset`, { method: "POST" });

    // Signalpost (role all), on the embedded PostgreSQL unless DATABASE_URL is set.
    const external = process.env.DATABASE_URL;
    // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the Signalpost process.
    const nodeArgs = [...START_NODE_ARGS, ...(process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [])];
    const signalpost = start([...nodeArgs, ENTRY, "serve", "--role", split ? "api" : "all"], {
      PORT: "0",
      HOST: "127.0.0.1",
      SIGNALPOST_DATA_DIR: dataDir,
      SIGNALPOST_ALLOW_INSECURE_URLS: "true",
      SIGNALPOST_DELIVERY_CONCURRENCY: String(CONCURRENCY),
      // The bench's subscribers all come from one address with one key: above the default caps (1,000 / 2,000).
      SIGNALPOST_MAX_CONNECTIONS_PER_ADDRESS: "20000",
      SIGNALPOST_MAX_WEBSOCKETS_PER_CREDENTIAL: "20000",
      LOG_LEVEL: "info",
    });
    processes.push(signalpost.child);
    const port = await waitFor(
      () => signalpost.lines.map(json).find((line) => line?.graphiql)?.port as number | undefined,
      "Signalpost",
    );
    const measured = [signalpost.child];
    if (split) {
      // The worker shares the API's database: the embedded one is reached through its URL once the API has started it.
      const pgPort = signalpost.lines.map(json).find((line) => line?.msg === "embedded PostgreSQL started")?.port as
        | number
        | undefined;
      const password = external ? undefined : (await readFile(path.join(dataDir, "pg-password"), "utf8")).trim();
      const masterKey = external
        ? process.env.SIGNALPOST_MASTER_KEY
        : (await readFile(path.join(dataDir, "master-key"), "utf8")).trim();
      const worker = start([...nodeArgs, ENTRY, "serve", "--role", "worker"], {
        DATABASE_URL: external ?? `postgresql://postgres:${password}@127.0.0.1:${pgPort}/signalpost`,
        SIGNALPOST_MASTER_KEY: masterKey,
        SIGNALPOST_ALLOW_INSECURE_URLS: "true",
        SIGNALPOST_DELIVERY_CONCURRENCY: String(CONCURRENCY),
        LOG_LEVEL: "info",
      });
      processes.push(worker.child);
      measured.push(worker.child);
      await waitFor(() => worker.lines.map(json).find((line) => line?.msg === "job queue started"), "worker");
    }
    const rssTimer = setInterval(() => {
      void Promise.all(measured.map((child) => rssMb(child.pid as number))).then((sizes) => {
        maxRss = Math.max(maxRss, ...sizes);
        phaseRss = Math.max(phaseRss, ...sizes);
      });
    }, 250);
    // Each measured phase records where the machine's CPU went and the largest Signalpost process meanwhile.
    const cpuParts = {
      signalpost: measured.map((child) => child.pid as number),
      receiver: receiverProcess.child.pid as number,
    };
    let phaseRss = 0;
    const phases: Record<string, { cpu: ReturnType<typeof shares>; rss_mb: number }> = {};
    const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
      phaseRss = 0;
      const before = readCpu(cpuParts);
      const result = await run();
      phases[name] = { cpu: shares(before, readCpu(cpuParts)), rss_mb: phaseRss };
      return result;
    };

    let apiKey: string;
    let databaseUrl: string;
    if (external) {
      databaseUrl = external;
      const keys = start(
        [ENTRY, "keys", "create", "--tenant", `bench-${Date.now()}`, "--name", "bench", "--scopes", "admin", "--json"],
        {},
      );
      apiKey = await waitFor(() => keys.lines.map(json).find((line) => line?.key)?.key as string | undefined, "key");
    } else {
      apiKey = await waitFor(() => /^ {4}(sp_\S+)$/m.exec(signalpost.lines.join("\n"))?.[1], "first admin key");
      const pgPort = signalpost.lines.map(json).find((line) => line?.msg === "embedded PostgreSQL started")
        ?.port as number;
      const password = (await readFile(path.join(dataDir, "pg-password"), "utf8")).trim();
      databaseUrl = `postgresql://postgres:${password}@127.0.0.1:${pgPort}/signalpost`;
    }
    // A bounded keep-alive pool, as a real publisher would use: at 1,000 requests a second unbounded fetch runs out of
    // sockets.
    const apiAgent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
    const graphql = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
      const response = await request(`http://127.0.0.1:${port}/graphql`, {
        method: "POST",
        dispatcher: apiAgent,
        headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.body.json()) as { data: T; errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };

    // 6. Subscriptions (run last, or alone with --subscriptions-only).
    const subscriptionPhaseOf = (name: string, plan: SubscriptionPlan) =>
      phase(name, () =>
        runSubscriptionPhase({
          wsUrl: `ws://127.0.0.1:${port}/graphql`,
          apiKey,
          plan,
          createEventType: async (name) => {
            await graphql(`mutation ($name: String!) { createEventType(input: { name: $name }) { __typename } }`, {
              name,
            });
          },
          publish: async (eventType, payload) => {
            await graphql(`mutation ($input: PublishEventInput!) { publishEvent(input: $input) { __typename } }`, {
              input: { eventType, payload },
            });
          },
          rssMb: () => rssMb(signalpost.child.pid as number),
        }),
      );
    // The same plan against the floor (tests/bench/ws-floor-server.ts): the same clients and messages from a server
    // that only writes frames. Its figures and the same-run ratio go beside Signalpost's.
    const withFloor = async (figures: SubscriptionFigures, plan: SubscriptionPlan): Promise<SubscriptionFigures> => {
      const floorProcess = start(["--import", "tsx", "tests/bench/ws-floor-server.ts"], {});
      processes.push(floorProcess.child);
      try {
        const floorPort = await waitFor(
          () => floorProcess.lines.map(json).find((line) => line?.port)?.port as number | undefined,
          "WebSocket floor server",
          60_000,
          floorProcess.child,
        );
        const floor = await runSubscriptionPhase({
          wsUrl: `ws://127.0.0.1:${floorPort}/graphql`,
          apiKey,
          plan,
          createEventType: async () => undefined,
          publish: async (_eventType, payload) => {
            const response = await fetch(`http://127.0.0.1:${floorPort}/publish`, {
              method: "POST",
              body: JSON.stringify(payload),
            });
            await response.arrayBuffer();
            if (!response.ok) throw new Error(`the floor server answered ${response.status}`);
          },
          rssMb: () => rssMb(floorProcess.child.pid as number),
        });
        // A floor that missed receipts is no yardstick: its figures are printed, the ratio is left out.
        const complete = floor.delivered === floor.expected && figures.delivered === figures.expected;
        return {
          ...figures,
          floor: { delivered: floor.delivered, p50_ms: floor.p50_ms, p95_ms: floor.p95_ms, p99_ms: floor.p99_ms },
          ...(complete ? { p95_vs_floor: Number((figures.p95_ms / floor.p95_ms).toFixed(2)) } : {}),
        };
      } finally {
        floorProcess.child.kill("SIGTERM");
      }
    };
    // 1,000 subscribers at 10/s, then (full run) 10,000 at 2/s, each followed by its floor.
    const subscriptionsPhase = async () => {
      const plan = subscriptionPlan(quick);
      const subscriptions = await withFloor(await subscriptionPhaseOf("subscriptions", plan), plan);
      const large = largeSubscriptionPlan(quick);
      const subscriptionsLarge = large
        ? await withFloor(await subscriptionPhaseOf("subscriptions_large", large), large)
        : null;
      return { subscriptions, subscriptionsLarge };
    };
    if (subscriptionsOnly) {
      const { subscriptions, subscriptionsLarge } = await subscriptionsPhase();
      clearInterval(rssTimer);
      const summary = {
        mode: quick ? "quick" : "full",
        subscriptions,
        ...(subscriptionsLarge ? { subscriptions_large: subscriptionsLarge } : {}),
        phases,
        cpus: os.cpus().length,
      };
      process.stdout.write(`\n${JSON.stringify(summary)}\n`);
      return;
    }

    const patterns = runPatternPhase();

    // Setup: event types and K endpoints for throughput, one for latency, one parked (for the backlog).
    for (const name of ["bench.throughput", "bench.latency", "bench.parked"]) {
      await graphql(`mutation ($name: String!) { createEventType(input: { name: $name }) { __typename } }`, { name });
    }
    const secrets: string[] = [];
    const createEndpoint = async (name: string, type: string) => {
      const data = await graphql<{ createEndpoint: { secret: string; endpoint: { id: string } } }>(
        `mutation ($input: CreateEndpointInput!) { createEndpoint(input: $input) { ... on CreatedEndpoint { secret endpoint { id } } ... on Error { message } } }`,
        { input: { name, url: `${receiverUrl}/${name}`, eventTypes: [type] } },
      );
      secrets.push(data.createEndpoint.secret);
      return data.createEndpoint.endpoint.id;
    };
    for (let i = 0; i < K; i += 1) await createEndpoint(`throughput-${i}`, "bench.throughput");
    await createEndpoint("latency", "bench.latency");
    const parkedEndpoint = await createEndpoint("parked", "bench.parked");

    // 3. Latency: a fixed publish rate, one delivery per event (run after the throughput phases, or alone).
    const latency = async (rate: number, seconds: number) => {
      await reset();
      const total = rate * seconds;
      const interval = 1000 / rate;
      const started = performance.now();
      const inFlight: Promise<unknown>[] = [];
      const publishTimes: number[] = [];
      for (let i = 0; i < total; i += 1) {
        const due = started + i * interval;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        const publishedAt = performance.now();
        inFlight.push(
          graphql(`mutation ($input: PublishEventInput!) { publishEvent(input: $input) { __typename } }`, {
            input: { eventType: "bench.latency", payload: { sentAt: Date.now(), i } },
          }).then(() => publishTimes.push(performance.now() - publishedAt)),
        );
      }
      await Promise.all(inFlight);
      const achieved = total / ((performance.now() - started) / 1000);
      let received: number[];
      for (;;) {
        const current = await stats();
        if (current.latencies.length >= total) {
          received = current.latencies.sort((a, b) => a - b);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      publishTimes.sort((a, b) => a - b);
      return {
        rate,
        achieved: Math.round(achieved),
        p50: percentile(received, 50),
        p95: percentile(received, 95),
        p99: percentile(received, 99),
        publishP50: Math.round(percentile(publishTimes, 50)),
        publishP95: Math.round(percentile(publishTimes, 95)),
      };
    };
    if (latencyOnly) {
      // A short unmeasured round first, as in the full run, so the JIT has compiled the publish path.
      await latency(100, 2);
      const atTarget = await phase("latency", () => latency(plan.latencyRate, plan.latencySeconds));
      const steady = plan.steadyRate
        ? await phase("latency_steady", () => latency(plan.steadyRate as number, plan.latencySeconds))
        : undefined;
      clearInterval(rssTimer);
      process.stdout.write(`\n${JSON.stringify({ mode: quick ? "quick" : "full", atTarget, steady, phases })}\n`);
      return;
    }

    // 1. Ceiling: signed POSTs straight from undici, same receiver, same concurrency.
    await reset();
    const agent = new Agent({ connections: 32, keepAliveTimeout: 30_000 });
    const secret = generateWebhookSecret();
    let sent = 0;
    const ceilingStart = performance.now();
    await phase("ceiling", () =>
      Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (sent < plan.ceilingPosts) {
            sent += 1;
            const body = JSON.stringify({ type: "bench.raw", timestamp: new Date().toISOString(), data: { n: sent } });
            const headers = signWebhook({ msgId: `msg_raw_${sent}`, timestamp: new Date(), body, secrets: [secret] });
            const response = await request(`${receiverUrl}/raw`, {
              method: "POST",
              dispatcher: agent,
              body,
              headers: { ...headers, "content-type": "application/json", "user-agent": "bench" },
            });
            await response.body.dump();
          }
        }),
      ),
    );
    const rawPerSecond = plan.ceilingPosts / ((performance.now() - ceilingStart) / 1000);
    await agent.close();

    // 2. Throughput: M events in batches of 100, K deliveries each.
    const throughput = async (events: number): Promise<number> => {
      await reset();
      const batches = Math.ceil(events / 100);
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < batches) {
            next += 1;
            await graphql(
              `mutation ($events: [PublishEventInput!]!) { publishEvents(events: $events) { __typename } }`,
              { events: Array.from({ length: 100 }, (_, i) => ({ eventType: "bench.throughput", payload: { i } })) },
            );
          }
        }),
      );
      const expected = batches * 100 * K;
      for (;;) {
        const { received } = await stats();
        if (received >= expected) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return expected / ((performance.now() - started) / 1000);
    };
    // A short unmeasured round first, so the JIT has compiled the hot paths before anything is timed.
    await throughput(Math.min(1_000, plan.events));
    const deliveriesPerSecond = await phase("throughput", () => throughput(plan.events));
    const { samples } = await stats();

    // 2b. The pg-boss baseline (tests/bench/pgboss-baseline.ts): the same number of signed POSTs to the same receiver
    // through pg-boss alone, in its own process and schema, right after Signalpost's throughput phase.
    const pgbossBaseline = await phase("pgboss_baseline", async () => {
      await reset();
      const deliveries = plan.events * K;
      const baseline = start(["--import", "tsx", "tests/bench/pgboss-baseline.ts"], {
        DATABASE_URL: databaseUrl,
        RECEIVER_URL: receiverUrl,
        DELIVERIES: String(deliveries),
        CONCURRENCY: String(CONCURRENCY),
      });
      processes.push(baseline.child);
      const perSecond = await waitFor(
        () =>
          baseline.lines.map(json).find((line) => line?.deliveries_per_s !== undefined)?.deliveries_per_s as
            | number
            | undefined,
        "the pg-boss baseline",
        300_000,
        baseline.child,
      );
      const { received } = await stats();
      if (received < deliveries)
        throw new Error(`the pg-boss baseline reported ${perSecond}/s but ${received} arrived`);
      return perSecond;
    });
    const verified = samples.filter(
      (sample) => verifyStandardWebhook({ headers: sample.headers, body: sample.body, secrets }).ok,
    ).length;

    const atTarget = await phase("latency", () => latency(plan.latencyRate, plan.latencySeconds));
    const steady = plan.steadyRate
      ? await phase("latency_steady", () => latency(plan.steadyRate as number, plan.latencySeconds))
      : undefined;

    // 4. Inbound: signed POSTs to an agent's URL at full speed; accepted per second, then executions completed per second.
    const benchAgent = await graphql<{ createAgent: { secret: string; agent: { id: string } } }>(
      `mutation { createAgent(input: { name: "bench", status: ACTIVE, rateLimitPerMinute: 1000000 }) {
        ... on CreatedAgent { secret agent { id } } ... on Error { message } } }`,
    );
    const agentUrl = `http://127.0.0.1:${port}/agents/${benchAgent.createAgent.agent.id}/webhook`;
    const inboundAgent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
    let inboundSent = 0;
    let accepted = 0;
    const inboundStart = performance.now();
    await phase("inbound", () =>
      Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (inboundSent < plan.inbound) {
            inboundSent += 1;
            const body = JSON.stringify({ n: inboundSent });
            const headers = signWebhook({
              msgId: `msg_in_${inboundSent}_${Date.now()}`,
              timestamp: new Date(),
              body,
              secrets: [benchAgent.createAgent.secret],
            });
            const response = await request(agentUrl, {
              method: "POST",
              dispatcher: inboundAgent,
              body,
              headers: { ...headers, "content-type": "application/json" },
            });
            await response.body.dump();
            if (response.statusCode === 202) accepted += 1;
          }
        }),
      ),
    );
    const inboundAcceptedPerSecond = accepted / ((performance.now() - inboundStart) / 1000);
    await inboundAgent.close();
    const inboundDb = new pg.Client({ connectionString: databaseUrl });
    await inboundDb.connect();
    for (;;) {
      const { rows } = await inboundDb.query<{ pending: string }>(
        `SELECT count(*) AS pending FROM "AgentExecution" WHERE "agentId" = $1 AND status IN ('QUEUED', 'RUNNING')`,
        [uuidOf(benchAgent.createAgent.agent.id)],
      );
      if (Number(rows[0]?.pending) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const executionsPerSecond = accepted / ((performance.now() - inboundStart) / 1000);
    await inboundDb.end();

    // 5. Scale: throughput with deliveries waiting in the queue (parked: due in a day, so they are queued, not sent).
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const park = async (count: number) => {
      const { rows } = await db.query<{ id: string; tenantId: string }>(
        `INSERT INTO "Event" ("tenantId", "eventType", payload) SELECT "tenantId", 'bench.parked', '{}'::jsonb FROM "Endpoint" WHERE id = $1 RETURNING id, "tenantId"`,
        [uuidOf(parkedEndpoint)],
      );
      const event = rows[0] as { id: string; tenantId: string };
      // As a publish with deliverAt stores them: waiting rows in the ledger the claims read, all due at one time, and
      // that second's wake-up (one job, not one per row).
      const dueAt = new Date(Date.now() + 86_400_000);
      await db.query(
        `INSERT INTO "Delivery" ("tenantId", "eventId", "endpointId", "eventType", "dueAt")
         SELECT $1, $2, $3, 'bench.parked', $5 FROM generate_series(1, $4)`,
        [event.tenantId, event.id, uuidOf(parkedEndpoint), count, dueAt],
      );
      await scheduleWakeUps(db, [dueAt]);
      await db.query(`ANALYZE "Delivery"`);
    };
    const [smallBacklog, largeBacklog] = plan.backlogs as [number, number];
    await park(smallBacklog);
    const withSmall = await phase("backlog_small", () => throughput(plan.events));
    await park(largeBacklog - smallBacklog);
    const withLarge = await phase("backlog_large", () => throughput(plan.events));
    await db.end();
    const { subscriptions, subscriptionsLarge } = await subscriptionsPhase();
    clearInterval(rssTimer);

    const result = {
      mode: quick ? "quick" : "full",
      processes: split ? "api + worker" : "all",
      endpoints: K,
      concurrency: CONCURRENCY,
      deliveries_per_s: Math.round(deliveriesPerSecond),
      raw_posts_per_s: Math.round(rawPerSecond),
      ratio: Number((deliveriesPerSecond / rawPerSecond).toFixed(3)),
      pgboss_baseline_deliveries_per_s: pgbossBaseline,
      ratio_to_pgboss_baseline: Number((deliveriesPerSecond / pgbossBaseline).toFixed(2)),
      signatures_verified: `${verified}/${samples.length}`,
      latency_rate_target: plan.latencyRate,
      latency_rate_achieved: atTarget.achieved,
      p50_ms: atTarget.p50,
      p95_ms: atTarget.p95,
      p99_ms: atTarget.p99,
      publish_request_p50_ms: atTarget.publishP50,
      publish_request_p95_ms: atTarget.publishP95,
      ...(steady
        ? {
            steady_rate: steady.rate,
            steady_rate_achieved: steady.achieved,
            steady_p50_ms: steady.p50,
            steady_p95_ms: steady.p95,
            steady_p99_ms: steady.p99,
          }
        : {}),
      inbound_accepted_per_s: Math.round(inboundAcceptedPerSecond),
      inbound_refused: plan.inbound - accepted,
      executions_completed_per_s: Math.round(executionsPerSecond),
      backlog_small: smallBacklog,
      backlog_large: largeBacklog,
      deliveries_per_s_small_backlog: Math.round(withSmall),
      deliveries_per_s_large_backlog: Math.round(withLarge),
      backlog_ratio_200k_vs_10k: Number((withLarge / withSmall).toFixed(3)),
      subscriptions,
      ...(subscriptionsLarge ? { subscriptions_large: subscriptionsLarge } : {}),
      patterns,
      rss_mb: maxRss,
      phases,
      cpus: os.cpus().length,
      node: process.version,
    };
    const machine = (name: string): [string, string] => {
      const measuredPhase = phases[name];
      const cpu = measuredPhase?.cpu;
      const parts = cpu
        ? `cpu: signalpost ${cpu.signalpost}%, postgres ${cpu.postgres}%, bench ${cpu.bench}%, receiver ${cpu.receiver}%; main thread ran ${cpu.mainThread.running}%, waited for a core ${cpu.mainThread.waitingForCpu}%; `
        : "";
      return ["", `  ${parts}max RSS ${measuredPhase?.rss_mb ?? "?"} MB`];
    };
    /** The table rows of one subscription phase. */
    const subscriptionRows = (figures: SubscriptionFigures, name: string): [string, string][] => [
      [
        `subscribers x events (${figures.subscribers} x ${figures.events} at ${figures.rate}/s)`,
        `${figures.delivered}/${figures.expected} delivered; p50 ${figures.p50_ms} ms, p95 ${figures.p95_ms} ms, p99 ${figures.p99_ms} ms`,
      ],
      [
        "  the same on the WebSocket floor",
        figures.floor
          ? `${figures.floor.delivered} delivered; p50 ${figures.floor.p50_ms} ms, p95 ${figures.floor.p95_ms} ms; ${figures.p95_vs_floor === undefined ? "not compared (receipts missing)" : `Signalpost's p95 is ${figures.p95_vs_floor}x`}`
          : "not run",
      ],
      [
        "  sockets",
        `connected in ${figures.connect_ms} ms, subscribed in ${figures.ready_ms} ms; ${figures.rss_mb_per_1000_sockets} MB RSS per 1,000 (${figures.rss_mb_before} MB before, ${figures.rss_mb_subscribed} MB subscribed)`,
      ],
      machine(name),
    ];
    const latencyRow = (figures: Awaited<ReturnType<typeof latency>>): [string, string] => [
      `latency at ${figures.rate}/s (achieved ${figures.achieved}/s)`,
      `p50 ${figures.p50} ms, p95 ${figures.p95} ms, p99 ${figures.p99} ms`,
    ];
    const rows: [string, string][] = [
      ["raw signed POSTs/s (ceiling)", String(result.raw_posts_per_s)],
      machine("ceiling"),
      [`deliveries/s (${plan.events} events x ${K} endpoints)`, `${result.deliveries_per_s}  (ratio ${result.ratio})`],
      machine("throughput"),
      [
        "  the same POSTs through pg-boss alone",
        `${result.pgboss_baseline_deliveries_per_s}/s (Signalpost ${result.ratio_to_pgboss_baseline}x)`,
      ],
      ["signatures verified at receiver", result.signatures_verified],
      latencyRow(atTarget),
      ["  of which the publish request", `p50 ${atTarget.publishP50} ms, p95 ${atTarget.publishP95} ms`],
      machine("latency"),
      ...(steady
        ? [
            latencyRow(steady),
            ["  of which the publish request", `p50 ${steady.publishP50} ms, p95 ${steady.publishP95} ms`] as [
              string,
              string,
            ],
            machine("latency_steady"),
          ]
        : []),
      [
        `inbound accepted/s (${plan.inbound} signed POSTs)`,
        `${result.inbound_accepted_per_s}  (${result.inbound_refused} refused)`,
      ],
      machine("inbound"),
      ["executions completed/s (accept to done)", String(result.executions_completed_per_s)],
      [`deliveries/s with ${smallBacklog} waiting`, String(result.deliveries_per_s_small_backlog)],
      machine("backlog_small"),
      [
        `deliveries/s with ${largeBacklog} waiting`,
        `${result.deliveries_per_s_large_backlog}  (ratio ${result.backlog_ratio_200k_vs_10k})`,
      ],
      machine("backlog_large"),
      ...subscriptionRows(subscriptions, "subscriptions"),
      ...(subscriptionsLarge ? subscriptionRows(subscriptionsLarge, "subscriptions_large") : []),
      [
        "pattern ^(a+)+$ on 24 a's and a '!'",
        `RE2 ${patterns.re2_catastrophic_ms_at_24} ms, V8 ${patterns.v8_catastrophic_ms_at_24} ms; RE2 on 256 KB: ${patterns.re2_catastrophic_ms_at_256kb} ms`,
      ],
      [
        "  an ordinary pattern, per match",
        `RE2 ${patterns.re2_ordinary_ns} ns, V8 ${patterns.v8_ordinary_ns} ns (${patterns.re2_vs_v8_ordinary_cost}x)`,
      ],
      ["max RSS of a Signalpost process", `${result.rss_mb} MB`],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    process.stdout.write(
      `\nSignalpost benchmark (${result.mode}, ${result.processes}, ${result.cpus} CPUs, Node ${result.node})\n\n`,
    );
    for (const [label, value] of rows) process.stdout.write(`  ${label.padEnd(width)}  ${value}\n`);
    process.stdout.write(`\n${JSON.stringify(result)}\n`);
  } finally {
    for (const child of processes.reverse()) child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
