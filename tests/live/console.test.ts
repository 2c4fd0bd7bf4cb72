import { type Client, createClient } from "graphql-ws";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { pool } from "../../src/db/prisma.js";
import { CONSOLE_CHANNEL, recordConsoleEvent, recordConsoleEvents } from "../../src/modules/console/console-events.js";
import type { ConsoleFeed } from "../../src/modules/console/console-feed.js";
import { type RunningApiServer, startLiveApiServer } from "../support/api-server.js";
import { gid } from "../support/ids.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";
import { subscribersJoined } from "../support/subscribers.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

let api: RunningApiServer;
/** The API server's console feed. */
const feed = () => api.consoleFeed as ConsoleFeed;
let delivering: Delivering;
let receiver: TestReceiver;
beforeAll(async () => {
  api = await startLiveApiServer();
  delivering = await startDelivering();
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  await receiver.close();
  await delivering.stop();
  await api.close();
});

interface ConsoleLine {
  cursor: string;
  kind: string;
  message: string;
  endpointId: string | null;
  apiKeyId: string | null;
  agentId: string | null;
  data: Record<string, unknown>;
}

/** A graphql-ws subscription to consoleEvents on the real port, collecting what arrives. */
function watchConsole(authorization: string, variables: { after?: string; last?: number } = {}) {
  const lines: ConsoleLine[] = [];
  const errors: unknown[] = [];
  const client: Client = createClient({
    url: api.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization },
  });
  client.subscribe<{ consoleEvents: ConsoleLine }>(
    {
      query: `subscription ($after: String, $last: Int) { consoleEvents(after: $after, last: $last) {
        cursor kind message endpointId apiKeyId agentId data } }`,
      variables,
    },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) lines.push(result.data.consoleEvents);
      },
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
  );
  return { lines, errors, close: () => client.dispose() };
}

/** The lines the tests write themselves (a subscriber's own key may add an API_KEY_USED line). */
function sent(watcher: { lines: ConsoleLine[] }): ConsoleLine[] {
  return watcher.lines.filter((line) => line.kind === "TEST_SENT");
}

/** Opens subscriptions and waits until each has joined the feed (is live, not still connecting). */
async function watchersJoined<T>(open: () => T, count = 1): Promise<T> {
  const before = feed().subscriberCount;
  const opened = open();
  await until(
    async () => feed().subscriberCount,
    (n) => n >= before + count,
    `${count} console subscribers`,
  );
  return opened;
}

describe("consoleEvents", () => {
  it("streams the tenant's integration events live, and nothing of theirs to another tenant", async () => {
    const { tenant, headers, apiKey } = await seed.tenantWithKey();
    const stranger = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const [mine, theirs] = await watchersJoined(
      () => [watchConsole(headers.authorization as string), watchConsole(stranger.headers.authorization as string)],
      2,
    );
    // A second key of the tenant, used for several requests from now on: announced once, not once per request.
    const second = await seed.keyFor(tenant, { name: "second" });

    const outbound = outboundApi(second.headers);
    const endpoint = await outbound.createEndpoint({ url: receiver.url });
    await outbound.publish({ eventType: "order.created", payload: { n: 1 } });
    await outbound.run(`mutation ($id: ID!) { sendTestEvent(endpointId: $id) { __typename } }`, { id: endpoint.id });
    await outbound.run(`mutation ($id: ID!) { disableEndpoint(id: $id, reason: "maintenance") { __typename } }`, {
      id: endpoint.id,
    });
    await outbound.run(`mutation ($id: ID!) { revealEndpointSecret(id: $id) { __typename } }`, { id: endpoint.id });

    const kinds = (lines: ConsoleLine[]) => lines.map((line) => line.kind);
    await until(
      async () => kinds(mine.lines),
      (seen) =>
        ["ATTEMPT_SUCCEEDED", "TEST_SENT", "ENDPOINT_DISABLED", "SECRET_REVEALED"].every((k) => seen.includes(k)),
      "the console lines",
    );
    const delivered = mine.lines.find((line) => line.kind === "ATTEMPT_SUCCEEDED");
    expect(delivered).toMatchObject({ endpointId: endpoint.id, data: { statusCode: 200, eventType: "order.created" } });
    expect(delivered?.message).toContain("order.created");
    expect(mine.lines.find((line) => line.kind === "ENDPOINT_DISABLED")?.data).toMatchObject({ reason: "maintenance" });
    // (The subscriber's own key may be announced too, depending on when its connection's write lands.)
    expect(
      mine.lines.filter((line) => line.kind === "API_KEY_USED" && line.apiKeyId !== gid("ApiKey", apiKey.id)),
    ).toEqual([
      expect.objectContaining({
        apiKeyId: gid("ApiKey", second.apiKey.id),
        data: { name: "second", lastChars: second.token.slice(-4) },
      }),
    ]);
    expect(
      mine.lines.find((line) => line.kind === "API_KEY_CREATED" && line.apiKeyId !== gid("ApiKey", apiKey.id)),
    ).toMatchObject({
      apiKeyId: gid("ApiKey", second.apiKey.id),
    });
    // Nothing secret travels: a revealed secret is announced, not shown.
    expect(JSON.stringify(mine.lines)).not.toContain("whsec_");
    // Cursors only grow.
    const cursors = mine.lines.map((line) => line.cursor.split(".").map(BigInt) as [bigint, bigint]);
    for (let index = 1; index < cursors.length; index += 1) {
      const [previous, current] = [cursors[index - 1] as [bigint, bigint], cursors[index] as [bigint, bigint]];
      expect(current[0] > previous[0] || (current[0] === previous[0] && current[1] > previous[1])).toBe(true);
    }
    // The stranger sees only its own key: used, and created when its subscription starts before that event lands.
    expect(theirs.lines.filter((line) => line.kind !== "API_KEY_USED" && line.kind !== "API_KEY_CREATED")).toEqual([]);
    expect(theirs.lines.every((line) => line.apiKeyId === gid("ApiKey", stranger.apiKey.id))).toBe(true);
    await Promise.all([mine.close(), theirs.close()]);
  });

  it("after a disconnect, resumes with `after`: what was missed, then live, nothing twice", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    const note = (n: number) =>
      recordConsoleEvent({ tenantId: tenant.id, kind: "TEST_SENT", data: { url: "http://x.test", statusCode: n } });
    const first = await watchersJoined(() => watchConsole(headers.authorization as string));
    for (let n = 1; n <= 3; n += 1) await note(n);
    await until(
      async () => sent(first).length,
      (count) => count >= 3,
      "three live lines",
    );
    const lastSeen = sent(first).at(-1)?.cursor as string;
    await first.close();

    for (let n = 4; n <= 6; n += 1) await note(n); // while nobody listens
    const resumed = watchConsole(headers.authorization as string, { after: lastSeen });
    await until(
      async () => sent(resumed).length,
      (count) => count >= 3,
      "the missed lines",
    );
    for (let n = 7; n <= 9; n += 1) await note(n); // live again; 9 is the last, so a (wrong) duplicate comes before it
    const codes = (lines: ConsoleLine[]) =>
      lines.filter((line) => line.kind === "TEST_SENT").map((line) => line.data.statusCode);
    await until(
      async () => codes(resumed.lines),
      (seen) => seen.includes(9),
      "the live lines after the replay",
    );

    expect(codes(first.lines)).toEqual([1, 2, 3]);
    expect(codes(resumed.lines)).toEqual([4, 5, 6, 7, 8, 9]);
    await resumed.close();

    // `last` replays the most recent lines, then continues live.
    const tail = watchConsole(headers.authorization as string, { last: 2 });
    await until(
      async () => sent(tail).length,
      (count) => count >= 2,
      "the last two lines",
    );
    expect(codes(tail.lines)).toEqual([8, 9]);
    await tail.close();
  });

  it("joins mid-stream under concurrent writers with no gap and no duplicate at the seam", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    const watcher = await watchersJoined(() => watchConsole(headers.authorization as string));
    let written = 0;
    let running = true;
    // Four writers in parallel: their transactions commit in an order that differs from their ids'.
    const writers = Array.from({ length: 4 }, async () => {
      while (running) {
        written += 1;
        await recordConsoleEvent({ tenantId: tenant.id, kind: "TEST_SENT", data: { statusCode: written } });
      }
    });
    await until(
      async () => sent(watcher).length,
      (count) => count >= 50,
      "fifty lines",
    );
    const seam = sent(watcher)[20]?.cursor as string;
    const joiner = watchConsole(headers.authorization as string, { after: seam });
    await until(
      async () => sent(joiner).length,
      (count) => count >= 100,
      "the joiner catching up",
    );
    running = false;
    await Promise.all(writers);
    // The last row, written after every writer stopped: a (wrong) duplicate or extra line would arrive before it.
    await recordConsoleEvent({ tenantId: tenant.id, kind: "TEST_SENT", data: { statusCode: 0 } });

    const { rows } = await pool.query<{ cursor: string }>(
      `SELECT txid || '.' || id AS cursor FROM "ConsoleEvent" WHERE "tenantId" = $1 AND kind = 'TEST_SENT' ORDER BY txid, id`,
      [tenant.id],
    );
    const all = rows.map((row) => row.cursor);
    const last = all.at(-1);
    await until(
      async () => sent(watcher).map((line) => line.cursor),
      (seen) => seen.includes(last as string),
      "the watcher to see every row",
    );
    await until(
      async () => sent(joiner).map((line) => line.cursor),
      (seen) => seen.includes(last as string),
      "the joiner to see the rest",
    );
    expect(sent(watcher).map((line) => line.cursor)).toEqual(all);
    expect(sent(joiner).map((line) => line.cursor)).toEqual(all.slice(21));
    await Promise.all([watcher.close(), joiner.close()]);
  });

  it("orders by number, not text, where ids cross a power of ten (9999 before 10000)", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    await pool.query(`SELECT setval('"ConsoleEvent_id_seq"', GREATEST(9995, (SELECT max(id) FROM "ConsoleEvent")))`);
    const first = (await pool.query<{ id: string }>(`SELECT last_value::text AS id FROM "ConsoleEvent_id_seq"`))
      .rows[0];
    // One statement, so one transaction id: the order is the ids' alone.
    await recordConsoleEvents(
      Array.from({ length: 10 }, (_, n) => ({
        tenantId: tenant.id,
        kind: "TEST_SENT" as const,
        data: { statusCode: n },
      })),
    );
    const codes = (lines: ConsoleLine[]) => sent({ lines }).map((line) => line.data.statusCode);
    // (Room for the tenant's API_KEY_CREATED and this subscriber's own API_KEY_USED among the last ones.)
    const tail = watchConsole(headers.authorization as string, { last: 12 });
    await until(
      async () => sent(tail).length,
      (count) => count >= 10,
      "the last ten",
    );
    expect(codes(tail.lines)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const resumed = watchConsole(headers.authorization as string, { after: `${sent(tail)[0]?.cursor}` });
    await until(
      async () => sent(resumed).length,
      (count) => count >= 9,
      "the nine after the first",
    );
    expect(codes(resumed.lines)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Number(first?.id)).toBeLessThan(10_000);
    await Promise.all([tail.close(), resumed.close()]);
  });

  it("holds back a row committed while an older transaction is still open, then sends both in order", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    const watcher = await watchersJoined(() => watchConsole(headers.authorization as string));
    const slow = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await slow.connect();
    try {
      await slow.query("BEGIN");
      await slow.query(
        `INSERT INTO "ConsoleEvent" ("tenantId", kind, data) VALUES ($1, 'TEST_SENT', '{"statusCode": 1}')`,
        [tenant.id],
      );
      await recordConsoleEvent({ tenantId: tenant.id, kind: "TEST_SENT", data: { statusCode: 2 } });
      // The feed has read 2 and holds it back (or, wrongly, sent it).
      await until(
        async () => ({ holding: feed().holdingBack, sent: sent(watcher).length }),
        (state) => state.holding || state.sent > 0,
        "the feed to read the committed row",
      );
      // Sending 2 now would lose 1 for anyone resuming after 2's cursor.
      expect(sent(watcher)).toEqual([]);
      await slow.query("SELECT pg_notify($1, '')", [CONSOLE_CHANNEL]);
      await slow.query("COMMIT");
    } finally {
      await slow.end();
    }
    await until(
      async () => sent(watcher).length,
      (count) => count >= 2,
      "both lines",
    );
    expect(sent(watcher).map((line) => line.data.statusCode)).toEqual([1, 2]);
    await watcher.close();
  });

  it("refuses a malformed cursor or `last` with a typed error naming the argument", async () => {
    const { headers } = await seed.tenantWithKey();
    const badCursor = watchConsole(headers.authorization as string, { after: "yesterday" });
    const badLast = watchConsole(headers.authorization as string, { last: 10_000 });
    await until(
      async () => badCursor.errors.length + badLast.errors.length,
      (n) => n >= 2,
      "two errors",
    );
    expect(badCursor.errors[0]).toMatchObject({ extensions: { code: "VALIDATION_FAILED", field: "after" } });
    expect(badLast.errors[0]).toMatchObject({ extensions: { code: "VALIDATION_FAILED", field: "last" } });
    await Promise.all([badCursor.close(), badLast.close()]);
  });

  it("needs console:read", async () => {
    const { headers } = await seed.tenantWithKey({ scopes: ["endpoints:read"] });
    const denied = watchConsole(headers.authorization as string);
    await until(
      async () => denied.errors.length,
      (n) => n >= 1,
      "an error",
    );
    expect(denied.errors[0]).toMatchObject({ extensions: { code: "FORBIDDEN" } });
    await denied.close();
  });
});

describe("endpointHealthChanged", () => {
  it("announces a first failure, the recovery, and disabling", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const outbound = outboundApi(headers);
    const failing = await TestReceiver.start();
    const endpoint = await outbound.createEndpoint({
      url: failing.url,
      retryPolicy: { delaysSeconds: [1], maxAttempts: 2 },
    });
    failing.respondWith((n) => ({ status: n === 1 ? 500 : 200 }));
    const changes: { state: string; previousState: string; endpointId: string }[] = [];
    const client = createClient({
      url: api.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: headers.authorization },
    });
    client.subscribe<{ endpointHealthChanged: (typeof changes)[number] }>(
      { query: "subscription { endpointHealthChanged { endpointId state previousState endpoint { id } } }" },
      { next: (r) => r.data && changes.push(r.data.endpointHealthChanged), error: () => undefined, complete: () => {} },
    );
    await subscribersJoined("endpoint:health", tenant.id);
    await outbound.publish({ eventType: "order.created", payload: {} });
    await until(
      async () => changes.length,
      (n) => n >= 2,
      "failing then healthy",
      15_000,
    );
    await outbound.run(`mutation ($id: ID!) { disableEndpoint(id: $id) { __typename } }`, { id: endpoint.id });
    await until(
      async () => changes.length,
      (n) => n >= 3,
      "disabled",
    );
    expect(changes.map(({ previousState, state }) => `${previousState}->${state}`)).toEqual([
      "HEALTHY->FAILING",
      "FAILING->HEALTHY",
      "HEALTHY->DISABLED",
    ]);
    expect(changes.every((change) => change.endpointId === endpoint.id)).toBe(true);
    await client.dispose();
    await failing.close();
  });
});

describe("over Server-Sent Events (Yoga's HTTP transport)", () => {
  it("streams consoleEvents to a plain HTTP client with Accept: text/event-stream", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    const before = feed().subscriberCount;
    const controller = new AbortController();
    const response = await fetch(`${api.httpUrl}/graphql`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: "subscription { consoleEvents { kind data } }" }),
      signal: controller.signal,
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    await until(
      async () => feed().subscriberCount,
      (n) => n > before,
      "the SSE subscriber",
    );
    await recordConsoleEvent({ tenantId: tenant.id, kind: "TEST_SENT", data: { statusCode: 204 } });

    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes('"TEST_SENT"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    const event = text.split("\n").find((line) => line.startsWith("data:") && line.includes("TEST_SENT"));
    expect(JSON.parse((event as string).slice(5))).toEqual({
      data: { consoleEvents: { kind: "TEST_SENT", data: { statusCode: 204 } } },
    });
  });
});
