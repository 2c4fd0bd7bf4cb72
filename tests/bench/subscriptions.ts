import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";

/**
 * The subscription phase of the bench: N eventPublished subscribers, one real WebSocket each, and M events published
 * at R a second; every subscriber should receive every event. Measures how long the sockets take to connect, what
 * they cost the server in memory, and publish-to-receipt latency over all N x M receipts.
 */
export interface SubscriptionPlan {
  subscribers: number;
  events: number;
  rate: number;
}

export interface SubscriptionFigures {
  subscribers: number;
  events: number;
  rate: number;
  connect_ms: number;
  ready_ms: number;
  /** (RSS with the sockets subscribed - RSS before) per 1,000: noisy, a collection can return start-up memory between. */
  rss_mb_per_1000_sockets: number;
  rss_mb_before: number;
  rss_mb_subscribed: number;
  delivered: number;
  expected: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  /** Results without a payload, and subscriptions ended by an error. */
  failures?: number;
  /** The same plan against tests/bench/ws-floor-server.ts (frames only, no GraphQL), run right after. */
  floor?: { delivered: number; p50_ms: number; p95_ms: number; p99_ms: number };
  /** p95_ms / floor.p95_ms, same run. */
  p95_vs_floor?: number;
}

/**
 * The full run's second subscription phase, issue 25's scale target: 10,000 subscribers at 2 events/s. Not in the
 * quick run, nor when BENCH_SUBSCRIBERS picks the one phase to run.
 */
export function largeSubscriptionPlan(quick: boolean): SubscriptionPlan | null {
  if (quick || process.env.BENCH_SUBSCRIBERS) return null;
  return { subscribers: 10_000, events: 20, rate: 2 };
}

/** From the environment: BENCH_SUBSCRIBERS (1,000), BENCH_SUBSCRIPTION_EVENTS (50), BENCH_SUBSCRIPTION_RATE (10/s). */
export function subscriptionPlan(quick: boolean): SubscriptionPlan {
  const number = (name: string, fallback: number) => {
    const value = Number(process.env[name]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    subscribers: number("BENCH_SUBSCRIBERS", quick ? 200 : 1_000),
    events: number("BENCH_SUBSCRIPTION_EVENTS", quick ? 20 : 50),
    rate: number("BENCH_SUBSCRIPTION_RATE", 10),
  };
}

const EVENT_TYPE = "bench.subscription";
const MAX_CONNECTING = 500;
const SUBSCRIPTION = `subscription ($types: [String!]) { eventPublished(eventTypes: $types) { eventId body } }`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The median of a few readings a tenth of a second apart: one reading can land just before or after a collection. */
async function steadyRss(read: () => Promise<number>): Promise<number> {
  const readings: number[] = [];
  for (let n = 0; n < 7; n += 1) {
    readings.push(await read());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return percentile(
    readings.sort((a, b) => a - b),
    50,
  );
}

/**
 * Runs the phase against a running Signalpost: `publish` sends one event (through the API, as a publisher would) and
 * `rssMb` reads the server's resident memory.
 */
export async function runSubscriptionPhase(options: {
  wsUrl: string;
  apiKey: string;
  plan: SubscriptionPlan;
  createEventType(name: string): Promise<void>;
  publish(eventType: string, payload: Record<string, unknown>): Promise<void>;
  rssMb(): Promise<number>;
}): Promise<SubscriptionFigures> {
  const { plan } = options;
  await options.createEventType(EVENT_TYPE);
  const rssBefore = await steadyRss(options.rssMb);
  const latencies: number[] = [];
  const probed = new Array<boolean>(plan.subscribers).fill(false);
  let connected = 0;
  let failures = 0;
  const clients: Client[] = [];
  const connectStart = performance.now();
  for (let index = 0; index < plan.subscribers; index += 1) {
    // At most 500 handshakes in flight: 10,000 at once overflow the listen backlog (the kernel resets some, ECONNRESET),
    // which measures the bench, not the server.
    if (index - connected >= MAX_CONNECTING) {
      await until(() => index - connected < MAX_CONNECTING, "handshakes to finish", 120_000);
    }
    const client = createClient({
      url: options.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      connectionParams: { authorization: `Bearer ${options.apiKey}` },
      on: { connected: () => (connected += 1) },
    });
    clients.push(client);
    client.subscribe<{ eventPublished: { body: string } }>(
      { query: SUBSCRIPTION, variables: { types: [EVENT_TYPE] } },
      {
        next: (result) => {
          const body = result.data?.eventPublished.body;
          if (!body) {
            failures += 1;
            return;
          }
          const { data } = JSON.parse(body) as { data: { sentAt?: number; probe?: boolean } };
          if (data.probe) probed[index] = true;
          else if (data.sentAt) latencies.push(Date.now() - data.sentAt);
        },
        error: () => (failures += 1),
        complete: () => undefined,
      },
    );
  }
  try {
    await until(() => connected === plan.subscribers, `${plan.subscribers} sockets to connect`, 120_000);
    const connectMs = performance.now() - connectStart;
    // A subscription attaches after its message is handled: probes until every subscriber has had one.
    // Each probe gets up to 2 s to reach everyone before the next: probing faster than the fan-out only piles them up.
    while (!probed.every(Boolean)) {
      if (failures > 0) throw new Error(`${failures} subscriptions ended or answered an error while probing`);
      await options.publish(EVENT_TYPE, { probe: true });
      await until(() => probed.every(Boolean) || failures > 0, "a probe", 2_000).catch(() => undefined);
    }
    const readyMs = performance.now() - connectStart;
    const rssAfter = await steadyRss(options.rssMb);

    const started = performance.now();
    const publishes: Promise<void>[] = [];
    for (let n = 0; n < plan.events; n += 1) {
      const wait = started + (n * 1000) / plan.rate - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      publishes.push(options.publish(EVENT_TYPE, { sentAt: Date.now(), n }));
    }
    await Promise.all(publishes);
    const expected = plan.subscribers * plan.events;
    await until(() => latencies.length >= expected, "every receipt", 60_000).catch(() => undefined);
    latencies.sort((a, b) => a - b);
    return {
      subscribers: plan.subscribers,
      events: plan.events,
      rate: plan.rate,
      connect_ms: Math.round(connectMs),
      ready_ms: Math.round(readyMs),
      rss_mb_per_1000_sockets: Number((((rssAfter - rssBefore) / plan.subscribers) * 1000).toFixed(1)),
      rss_mb_before: rssBefore,
      rss_mb_subscribed: rssAfter,
      delivered: latencies.length,
      expected,
      p50_ms: percentile(latencies, 50),
      p95_ms: percentile(latencies, 95),
      p99_ms: percentile(latencies, 99),
      ...(failures ? { failures } : {}),
    };
  } finally {
    await Promise.all(clients.map((client) => client.dispose()));
  }
}
