/**
 * The fan-out phase's second baseline (issue 26): a tuned pg-boss design doing the same signed POSTs to the same
 * receiver, with nothing of Signalpost in between. One job per delivery carrying what the send needs (URL, body,
 * message id, secret); producers `insert` them in batches of 500 (an event batch of 100 to 5 endpoints), four at a
 * time, as the bench publishes; two fetch loops keep up to 64 jobs (one send slot's worth each, fetched 100 at most at a time) ahead of the sends, sends
 * each with undici at the bench's concurrency, and completes them in batches. No attempt rows, no retries taken, no
 * GraphQL: what pg-boss plus signing plus HTTP costs on this machine, for the same-run ratio.
 *
 * Own process (so it does not share the bench's event loop), own schema (`bench_baseline`) in Signalpost's database.
 * Env: DATABASE_URL, RECEIVER_URL, DELIVERIES, CONCURRENCY. Prints one JSON line when every job is complete.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import PgBoss from "pg-boss";
import { Agent, request } from "undici";
import { generateWebhookSecret, signWebhook } from "../../src/lib/webhook-signature.js";

const QUEUE = "bench-baseline";
const deliveries = Number(process.env.DELIVERIES);
const concurrency = Number(process.env.CONCURRENCY);
const receiverUrl = process.env.RECEIVER_URL as string;
const ENDPOINTS = 5;
const INSERT_BATCH = 500;

interface SendJob {
  url: string;
  body: string;
  msgId: string;
  secret: string;
}

// A clean schema each run: an earlier run's completed jobs (never archived, supervise is off) would slow fetches and
// pile up in an external database.
const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
await admin.connect();
await admin.query("DROP SCHEMA IF EXISTS bench_baseline CASCADE");
const boss = new PgBoss({
  connectionString: process.env.DATABASE_URL,
  schema: "bench_baseline",
  max: 12,
  supervise: false,
  schedule: false,
});
boss.on("error", (error) => process.stderr.write(`pg-boss: ${error}\n`));
await boss.start();
await boss.createQueue(QUEUE);

const secrets = Array.from({ length: ENDPOINTS }, () => generateWebhookSecret());
const agent = new Agent({ connections: 32, keepAliveTimeout: 30_000 });

let inserted = 0;
const started = performance.now();
const produce = async () => {
  while (inserted < deliveries) {
    const count = Math.min(INSERT_BATCH, deliveries - inserted);
    inserted += count;
    const jobs = Array.from({ length: count }, (_, index) => {
      const endpoint = index % ENDPOINTS;
      const body = JSON.stringify({
        type: "bench.baseline",
        timestamp: new Date().toISOString(),
        data: { i: index },
      });
      return {
        name: QUEUE,
        data: {
          url: `${receiverUrl}/baseline-${endpoint}`,
          body,
          msgId: `msg_${randomUUID()}`,
          secret: secrets[endpoint] as string,
        } satisfies SendJob,
      };
    });
    await boss.insert(jobs);
  }
};

let inFlight = 0;
/** Jobs fetched so far, by both loops: only grows, so no job is counted twice on the way to `deliveries`. */
let fetchedTotal = 0;
let completed = 0;
let toComplete: string[] = [];
/** Completions, one batch at a time, chained so that the last flush waits for those before it. */
let flushing: Promise<void> = Promise.resolve();
const flush = () => {
  flushing = flushing.then(async () => {
    if (toComplete.length === 0) return;
    const ids = toComplete;
    toComplete = [];
    await boss.complete(QUEUE, ids);
    completed += ids.length;
  });
  return flushing;
};
const send = async (job: PgBoss.Job<SendJob>) => {
  const { url, body, msgId, secret } = job.data;
  const headers = signWebhook({ msgId, timestamp: new Date(), body, secrets: [secret] });
  const response = await request(url, {
    method: "POST",
    dispatcher: agent,
    body,
    headers: { ...headers, "content-type": "application/json", "user-agent": "bench-baseline" },
  });
  await response.body.dump();
  toComplete.push(job.id);
  // Not awaited: a send slot is not held through the completion's round trip.
  if (toComplete.length >= 100) void flush();
};
/** Jobs fetched and not yet sending: up to `concurrency` ahead, so a send slot never waits on a fetch round trip. */
const fetched: PgBoss.Job<SendJob>[] = [];
const startSends = () => {
  while (inFlight < concurrency && fetched.length > 0) {
    const job = fetched.shift() as PgBoss.Job<SendJob>;
    inFlight += 1;
    void send(job)
      .catch((error: unknown) => {
        // The bench's receiver answers 200 to everything: a failed send is a broken bench, not a figure.
        process.stderr.write(`baseline send failed: ${error}\n`);
        process.exit(1);
      })
      .finally(() => {
        inFlight -= 1;
        startSends();
      });
  }
};
const consume = async () => {
  try {
    while (fetchedTotal < deliveries) {
      const room = Math.min(100, 2 * concurrency - inFlight - fetched.length);
      const jobs = room > 0 ? await boss.fetch<SendJob>(QUEUE, { batchSize: room }) : [];
      fetchedTotal += jobs.length;
      fetched.push(...jobs);
      startSends();
      if (jobs.length === 0) await new Promise((resolve) => setTimeout(resolve, room > 0 ? 5 : 1));
    }
  } catch (error) {
    process.stderr.write(`baseline fetch failed: ${error}\n`);
    process.exit(1);
  }
};
/**
 * Two fetch loops: measured at 50,000 jobs on this machine, one loop 1,526-1,601/s, two 2,136-2,241/s, four
 * 1,488-1,867/s; batches of 50 or 128 instead of 100 no better (1,753 and 2,193/s).
 */
const FETCHERS = 2;
const flusher = setInterval(() => void flush(), 20);
const finish = async () => {
  while (completed < deliveries) {
    await flush();
    if (completed < deliveries) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  clearInterval(flusher);
};

await Promise.all([...Array.from({ length: 4 }, produce), ...Array.from({ length: FETCHERS }, consume)]);
await finish();
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  `${JSON.stringify({ deliveries: completed, deliveries_per_s: Math.round(completed / seconds) })}\n`,
);
await agent.close();
await boss.stop({ graceful: false, wait: true });
await admin.query("DROP SCHEMA IF EXISTS bench_baseline CASCADE");
await admin.end();
process.exit(0);
