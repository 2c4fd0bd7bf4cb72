import { connect } from "node:net";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { wireApp } from "../../src/app-context.js";
import { withSubscriptionErrors } from "../../src/graphql/context.js";
import { boundedFeed, type WaitingBudget } from "../../src/lib/bounded-feed.js";
import { logger } from "../../src/logger.js";
import { MAX_HEARTBEATS, runningHeartbeats } from "../../src/modules/system/system.schema.js";
import { type RunningApiServer, startApiServer } from "../support/api-server.js";
import { testServices } from "../support/graphql.js";
import { type SeededKey, seed } from "../support/seed.js";
import { subscribersJoined } from "../support/subscribers.js";
import { until } from "../support/wait.js";

// Caps of open sockets, per address and per credential, with limits this small so that a test can reach them; the
// defaults and their variables are in README Limits and Configuration.
let api: RunningApiServer;
/** The WebSocket cases' server: its connections per address stay at the default. */
let sockets: RunningApiServer;
let admin: SeededKey;
let other: SeededKey;
beforeAll(async () => {
  api = await startApiServer(undefined, { limits: { maxConnectionsPerAddress: 12 } });
  sockets = await startApiServer(undefined, { limits: { maxWebSocketsPerCredential: 3 } });
  admin = await seed.tenantWithKey();
  other = await seed.tenantWithKey();
});
afterAll(async () => {
  await api.close();
  await sockets.close();
});

/** A TCP connection that sends nothing; resolves once connected, with what the server answered on it. */
async function idleConnection() {
  const socket = connect(api.port, "127.0.0.1");
  let answer = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    answer += chunk;
  });
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise((resolve) => socket.once("connect", resolve));
  return { socket, closed, answer: () => answer };
}

async function authenticatedSocket(key: SeededKey) {
  const socket = new WebSocket(sockets.wsUrl, "graphql-transport-ws");
  socket.on("error", () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("unexpected-response", () => reject(new Error("upgrade refused")));
  });
  const acknowledged = new Promise<boolean>((resolve) => {
    socket.on("message", (data) => resolve((JSON.parse(String(data)) as { type: string }).type === "connection_ack"));
    void closed.then(() => resolve(false));
  });
  socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: key.headers.authorization } }));
  return { socket, closed, acknowledged: await acknowledged };
}

describe("open connections per address", () => {
  it("answers the one over the cap 503 TOO_MANY_CONNECTIONS with the limit, and admits again once one closes", async () => {
    const held = await Promise.all(Array.from({ length: 12 }, () => idleConnection()));
    const refused = await idleConnection();
    await refused.closed;
    expect(refused.answer()).toMatch(/^HTTP\/1\.1 503/);
    expect(refused.answer()).toContain("retry-after: 5");
    expect(JSON.parse(refused.answer().split("\r\n\r\n")[1] ?? "")).toMatchObject({
      code: "TOO_MANY_CONNECTIONS",
      limit: 12,
      field: "connectionsPerAddress",
    });
    held[0]?.socket.destroy();
    await until(
      async () => (await fetch(`${api.httpUrl}/healthz`).catch(() => undefined))?.status,
      (status) => status === 200,
      "a connection admitted again",
    );
    for (const connection of held) connection.socket.destroy();
  });
});

describe("open WebSockets per credential", () => {
  it("closes the one over the credential's cap with 1013 and the reason; other credentials are untouched", async () => {
    const open = [];
    for (let index = 0; index < 3; index += 1) open.push(await authenticatedSocket(admin));
    expect(open.map((connection) => connection.acknowledged)).toEqual([true, true, true]);
    const over = await authenticatedSocket(admin);
    expect(over.acknowledged).toBe(false);
    expect(await over.closed).toMatchObject({ code: 1013, reason: expect.stringContaining("TOO_MANY_WEBSOCKETS") });
    expect((await authenticatedSocket(other)).acknowledged).toBe(true);
    // One closed gives its place back.
    open[0]?.socket.close();
    await open[0]?.closed;
    await until(
      () => authenticatedSocket(admin),
      (connection) => connection.acknowledged,
      "a socket admitted again",
    );
  });
});

describe("WebSocket message structure", () => {
  it("closes a socket whose message would expand past its budget with 4400 naming the limit, before it is parsed", async () => {
    const { socket, closed, acknowledged } = await authenticatedSocket(other);
    expect(acknowledged).toBe(true);
    // 900 KB of empty arrays: under the 1 MB message limit, 13 times that in heap parsed.
    socket.send(`[${Array.from({ length: 300_000 }, () => "[]").join(",")}]`);
    expect(await closed).toMatchObject({ code: 4400, reason: expect.stringContaining("JSON_TOO_COMPLEX") });
  });
});

describe("a live subscription's waiting events", () => {
  it("end the subscription with CONSUMER_TOO_SLOW past the bound, after the events that fit", async () => {
    let offer: (value: number) => void = () => undefined;
    let detached = false;
    const feed = boundedFeed<number>((offering) => {
      offer = offering;
      return () => {
        detached = true;
      };
    }, 500);
    const iterator = feed[Symbol.asyncIterator]();
    // The feed starts on the first read; that read takes the first value.
    const first = iterator.next();
    for (let value = 0; value < 510; value += 1) offer(value);
    const received = [(await first).value];
    let failure: unknown;
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        received.push(next.value);
      }
    } catch (error) {
      failure = error;
    }
    // The first value went straight to the read waiting for it; 500 more waited, and the next one was one too many.
    expect(received).toEqual(Array.from({ length: 501 }, (_, value) => value));
    expect(failure).toMatchObject({ extensions: { code: "CONSUMER_TOO_SLOW", limit: 500 } });
    expect(detached).toBe(true);
  });

  it("let a wrapped subscription that completes while idle go at once: its feed is detached without another event", async () => {
    let detached = false;
    const live = boundedFeed<number>(() => () => {
      detached = true;
    });
    // What a resuming subscription is (relayedSince): a generator awaiting the live feed, wrapped for its errors.
    const resuming = async function* () {
      for await (const value of live) yield value;
    };
    const stream = withSubscriptionErrors(resuming(), live);
    // The first read runs the generator to its first await, which attaches the live feed.
    const pending = stream.next();
    await stream.return?.();
    expect(detached).toBe(true);
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  /** `count` feeds on `budget`, each with the function that offers it a value. */
  function feedsOn(budget: WaitingBudget, count: number) {
    const offers: ((value: number) => void)[] = [];
    const feeds = Array.from({ length: count }, () =>
      boundedFeed<number>(
        (offering) => {
          offers.push(offering);
          return () => undefined;
        },
        500,
        budget,
      ),
    );
    return { feeds, offers };
  }

  /** Reads `feed` to its end: how many values it got, and the error it ended with (null when it completed). */
  async function drain(iterator: AsyncIterator<number>, alreadyReceived = 0) {
    let received = alreadyReceived;
    try {
      while (!(await iterator.next()).done) received += 1;
      return { received, error: null as unknown };
    } catch (error) {
      return { received, error };
    }
  }

  it("share a process budget: past it a subscriber far behind the others is ended, the ones keeping up are not", async () => {
    const budget: WaitingBudget = { limit: 50, waiting: 0, feeds: 0 };
    const { feeds, offers } = feedsOn(budget, 20);
    // One subscriber never reads past its first value; nineteen read everything.
    const [stalledFeed, ...readingFeeds] = feeds as [(typeof feeds)[number], ...(typeof feeds)[number][]];
    const stalled = stalledFeed[Symbol.asyncIterator]();
    const firstRead = stalled.next();
    const received = readingFeeds.map(() => 0);
    const readers = readingFeeds.map(async (feed, index) => {
      for await (const _ of feed) received[index] = (received[index] ?? 0) + 1;
    });
    await until(
      async () => offers.length,
      (attached) => attached === 20,
      "every feed to attach",
    );
    for (let value = 0; value < 200; value += 1) {
      for (const offer of offers) offer(value);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await firstRead;
    const ending = await drain(stalled, 1);
    expect(ending.received).toBeLessThan(200);
    expect(ending.error).toMatchObject({ extensions: { code: "CONSUMER_TOO_SLOW", limit: 50, scope: "process" } });
    expect(received.every((count) => count === 200)).toBe(true);
    for (const feed of readingFeeds) await feed.return();
    await Promise.all(readers);
    await until(
      async () => budget,
      (state) => state.waiting === 0 && state.feeds === 0,
      "the budget to empty",
    );
  });

  it("share a process budget: a batch handed to every subscriber at once ends none of them", async () => {
    const budget: WaitingBudget = { limit: 50, waiting: 0, feeds: 0 };
    const { feeds, offers } = feedsOn(budget, 20);
    const received = feeds.map(() => 0);
    const readers = feeds.map(async (feed, index) => {
      for await (const _ of feed) received[index] = (received[index] ?? 0) + 1;
    });
    await until(
      async () => offers.length,
      (attached) => attached === 20,
      "every feed to attach",
    );
    // Batches of 3 notices, each handed to all 20 in one synchronous loop: 60 waiting at once, over the budget of 50.
    for (let batch = 0; batch < 20; batch += 1) {
      for (let item = 0; item < 3; item += 1) for (const offer of offers) offer(batch * 3 + item);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(
      async () => received,
      (counts) => counts.every((count) => count === 60),
      "every value to arrive",
    );
    for (const feed of feeds) await feed.return();
    await Promise.all(readers);
    await until(
      async () => budget,
      (state) => state.waiting === 0 && state.feeds === 0,
      "the budget to empty",
    );
  });

  it("share a process budget: when everyone falls behind alike, twice the budget is the bound", async () => {
    const budget: WaitingBudget = { limit: 50, waiting: 0, feeds: 0 };
    const { feeds, offers } = feedsOn(budget, 20);
    const iterators = feeds.map((feed) => feed[Symbol.asyncIterator]());
    const firstReads = iterators.map((iterator) => iterator.next());
    await until(
      async () => offers.length,
      (attached) => attached === 20,
      "every feed to attach",
    );
    let maxWaiting = 0;
    // Until every feed is ended (each is, once the process is past twice the budget and it has any waiting).
    for (let value = 0; value < 1_000 && budget.feeds > 0; value += 1) {
      for (const offer of offers) offer(value);
      maxWaiting = Math.max(maxWaiting, budget.waiting);
    }
    expect(maxWaiting).toBeLessThanOrEqual(2 * budget.limit);
    await Promise.all(firstReads);
    const endings = await Promise.all(iterators.map((iterator) => drain(iterator, 1)));
    for (const { error } of endings) {
      expect(error).toMatchObject({ extensions: { code: "CONSUMER_TOO_SLOW", limit: 50, scope: "process" } });
    }
    await until(
      async () => budget,
      (state) => state.waiting === 0 && state.feeds === 0,
      "the budget to empty",
    );
  });
});

describe("live subscriptions of a process", () => {
  it("are refused past the cap with TOO_MANY_SUBSCRIPTIONS and its limit, and a freed place can be taken again", async () => {
    const live = await wireApp({
      databaseUrl: process.env.DATABASE_URL as string,
      logger,
      instance: testServices,
      subscriptions: { maxSubscriptions: 3 },
    });
    // A key of its own: the credential cap of this server (3 sockets) is the other tests'.
    const subscriber = await seed.tenantWithKey();
    const previous = testServices.subscriptions;
    testServices.subscriptions = live.subscriptions;
    const client = createClient({
      url: sockets.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${subscriber.token}` },
    });
    try {
      const query = "subscription { eventPublished { eventId } }";
      const outcomes: { errors: unknown[] }[] = [];
      const start = () => {
        const outcome = { errors: [] as unknown[] };
        outcomes.push(outcome);
        const stop = client.subscribe(
          { query },
          {
            next: (result) => outcome.errors.push(...(result.errors ?? [])),
            error: (error) => outcome.errors.push(...(Array.isArray(error) ? error : [error])),
            complete: () => undefined,
          },
        );
        return { outcome, stop };
      };
      const held = [start(), start(), start()];
      await subscribersJoined("event:published", subscriber.tenant.id, 3);
      const refused = start();
      await until(
        async () => refused.outcome.errors,
        (errors) => errors.length > 0,
        "the fourth subscription's refusal",
      );
      expect(refused.outcome.errors).toMatchObject([
        { extensions: { code: "TOO_MANY_SUBSCRIPTIONS", limit: 3, scope: "process" } },
      ]);
      held[0]?.stop();
      await until(
        async () => live.subscriptions?.subscriberCount("event:published", subscriber.tenant.id),
        (count) => count === 2,
        "the completed subscription to leave",
      );
      const again = start();
      await subscribersJoined("event:published", subscriber.tenant.id, 3);
      expect(again.outcome.errors).toEqual([]);
      expect(held.map(({ outcome }) => outcome.errors)).toEqual([[], [], []]);
    } finally {
      await client.dispose();
      testServices.subscriptions = previous;
      await live.stop(Date.now() + 1_000);
    }
  });
});

describe("public heartbeats", () => {
  it("are capped on their own, outside the subscriptions cap: the one over is refused with TOO_MANY_SUBSCRIPTIONS", async () => {
    // Anonymous connections, 40 heartbeats each (under the per-connection limit), until the process's cap is full.
    const connections = Math.ceil(MAX_HEARTBEATS / 40);
    const clients = Array.from({ length: connections + 1 }, () =>
      createClient({ url: sockets.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 }),
    );
    const errors: unknown[] = [];
    const subscribe = (client: (typeof clients)[number]) =>
      client.subscribe(
        { query: "subscription { heartbeat(intervalMs: 60000) { sequence } }" },
        {
          next: (result) => errors.push(...(result.errors ?? [])),
          error: (error) => errors.push(...(Array.isArray(error) ? error : [error])),
          complete: () => undefined,
        },
      );
    try {
      const before = runningHeartbeats();
      for (const client of clients.slice(0, connections)) for (let n = 0; n < 40; n += 1) subscribe(client);
      await until(
        async () => runningHeartbeats(),
        (running) => running >= MAX_HEARTBEATS,
        "the heartbeat cap to fill",
      );
      expect(before).toBe(0);
      expect(errors).toEqual([]);
      subscribe(clients[connections] as (typeof clients)[number]);
      await until(
        async () => errors.length,
        (count) => count > 0,
        "the refusal",
      );
      expect(errors).toMatchObject([
        { extensions: { code: "TOO_MANY_SUBSCRIPTIONS", limit: MAX_HEARTBEATS, scope: "heartbeat" } },
      ]);
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
    await until(
      async () => runningHeartbeats(),
      (running) => running === 0,
      "the heartbeats to stop",
    );
  });
});
