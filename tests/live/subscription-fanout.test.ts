import type { Client } from "graphql-ws";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { announceHealthChange, publishMany } from "../../src/db/pubsub.js";
import { createEndpoint } from "../../src/modules/endpoints/endpoints.service.js";
import { publishEvents } from "../../src/modules/events/events.service.js";
import { type RunningApiServer, startLiveApiServer } from "../support/api-server.js";
import { testServices } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { seed, seedEventType } from "../support/seed.js";
import { subscribeOnOwnSocket, subscribersJoined } from "../support/subscribers.js";
import { until } from "../support/wait.js";

/**
 * Read once, send many (issue 25): one notice reaching many subscribers of a process reads its row once, not once
 * per subscriber, over real WebSockets; and sharing the read never hands one tenant's row to another.
 */

const SUBSCRIBERS = 50;
/** NOTIFY itself, the shared read, and slack for a stray statement: anything per subscriber is far above it. */
const MAX_STATEMENTS = 5;
const origin = { actor: { type: "system" as const, id: null, name: "test" } };

let api: RunningApiServer;
beforeAll(async () => {
  api = await startLiveApiServer();
});
afterAll(async () => {
  await api.close();
});

interface Received<T> {
  data: T[];
  errors: { code?: unknown; message: string }[];
}

/** One graphql-ws client (its own socket) holding one subscription; what it receives lands in `into`. */
function subscribe<T>(token: string, query: string, into: Received<T>, variables: Record<string, unknown> = {}) {
  return subscribeOnOwnSocket<T>(
    api.wsUrl,
    token,
    { query, variables },
    {
      result: (result) => {
        if (result.data) into.data.push(result.data);
        for (const error of result.errors ?? [])
          into.errors.push({ code: error.extensions?.code, message: error.message });
      },
      error: (error) => into.errors.push({ message: String(error) }),
    },
  );
}

function manySubscribers<T>(token: string, query: string, count: number) {
  const received = Array.from({ length: count }, (): Received<T> => ({ data: [], errors: [] }));
  const clients = received.map((into) => subscribe(token, query, into));
  return { received, clients };
}

/** The SQL texts sent through every pg client of this process (Prisma's adapter and the raw pool) while counting. */
function countStatements(): { texts: string[]; stop(): void } {
  const texts: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [first] = args;
    texts.push(typeof first === "string" ? first : String((first as { text?: string } | undefined)?.text ?? ""));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return { texts, stop: () => (pg.Client.prototype.query = original) };
}

const disposeAll = (clients: Client[]) => Promise.all(clients.map((client) => client.dispose()));

const EVENT_PUBLISHED = `subscription { eventPublished { eventId eventType body } }`;
type Published = { eventPublished: { eventId: string; eventType: string; body: string } };

describe("subscription fan-out", () => {
  it(`sends one published event to ${SUBSCRIBERS} eventPublished subscribers with a constant number of queries`, async () => {
    const { tenant, token } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const { received, clients } = manySubscribers<Published>(token, EVENT_PUBLISHED, SUBSCRIBERS);
    await subscribersJoined("event:published", tenant.id, SUBSCRIBERS);

    const [published] = await publishEvents(tenant.id, [{ eventType: "order.created", payload: { n: 1 } }], false);
    // From here on: the NOTIFY (sent a couple of milliseconds after the commit) and whatever the fan-out reads.
    const counting = countStatements();
    try {
      await until(
        async () => received.filter((into) => into.data.length > 0 || into.errors.length > 0).length,
        (n) => n === SUBSCRIBERS,
        "every subscriber's event",
      );
    } finally {
      counting.stop();
    }
    await disposeAll(clients);

    for (const into of received) {
      expect(into.errors).toEqual([]);
      expect(into.data).toHaveLength(1);
      expect(uuidOf(into.data[0]?.eventPublished.eventId as string)).toBe(published?.event.id);
      expect(JSON.parse(into.data[0]?.eventPublished.body as string)).toMatchObject({ data: { n: 1 } });
    }
    expect(counting.texts.length, counting.texts.join("\n")).toBeLessThanOrEqual(MAX_STATEMENTS);
  });

  it(`sends one delivery change to ${SUBSCRIBERS} deliveryUpdated subscribers, relations included, with a constant number of queries`, async () => {
    const { tenant, token } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const { endpoint } = await createEndpoint(
      tenant.id,
      { name: "orders", url: "https://hooks.example.com/in" },
      origin,
      testServices,
    );
    await publishEvents(tenant.id, [{ eventType: "order.created", payload: { n: 1 } }], false);
    // No worker runs in this file: the delivery stays PENDING, and its change is announced by hand below.
    const delivery = await prisma.delivery.findFirstOrThrow({ where: { tenantId: tenant.id } });

    type Updated = { deliveryUpdated: { id: string; status: string; endpoint: { id: string; name: string } } };
    const { received, clients } = manySubscribers<Updated>(
      token,
      `subscription { deliveryUpdated { id status endpoint { id name } } }`,
      SUBSCRIBERS,
    );
    await subscribersJoined("delivery:updated", tenant.id, SUBSCRIBERS);

    const counting = countStatements();
    try {
      publishMany("delivery:updated", tenant.id, [
        { deliveryId: delivery.id, endpointId: endpoint.id, eventId: delivery.eventId, status: delivery.status },
      ]);
      await until(
        async () => received.filter((into) => into.data.length > 0 || into.errors.length > 0).length,
        (n) => n === SUBSCRIBERS,
        "every subscriber's change",
      );
    } finally {
      counting.stop();
    }
    await disposeAll(clients);

    for (const into of received) {
      expect(into.errors).toEqual([]);
      expect(into.data).toEqual([
        {
          deliveryUpdated: {
            id: expect.any(String),
            status: "PENDING",
            endpoint: { id: expect.any(String), name: "orders" },
          },
        },
      ]);
      expect(uuidOf(into.data[0]?.deliveryUpdated.id as string)).toBe(delivery.id);
    }
    expect(counting.texts.length, counting.texts.join("\n")).toBeLessThanOrEqual(MAX_STATEMENTS);
  });

  it("resolves endpointHealthChanged's endpoint, nested selections included, for every subscriber from one read", async () => {
    const { tenant, token } = await seed.tenantWithKey();
    const { endpoint } = await createEndpoint(
      tenant.id,
      { name: "billing", url: "https://hooks.example.com/in" },
      origin,
      testServices,
    );
    type Changed = {
      endpointHealthChanged: { state: string; endpoint: { name: string; secret: { version: number } } };
    };
    const { received, clients } = manySubscribers<Changed>(
      token,
      `subscription { endpointHealthChanged { state endpoint { name secret { version } } } }`,
      10,
    );
    await subscribersJoined("endpoint:health", tenant.id, 10);

    const counting = countStatements();
    try {
      announceHealthChange({
        endpointId: endpoint.id,
        tenantId: tenant.id,
        state: "FAILING",
        previousState: "HEALTHY",
      });
      await until(
        async () => received.filter((into) => into.data.length > 0 || into.errors.length > 0).length,
        (n) => n === 10,
        "every subscriber's change",
      );
    } finally {
      counting.stop();
    }
    await disposeAll(clients);

    for (const into of received) {
      expect(into.errors).toEqual([]);
      expect(into.data).toEqual([
        { endpointHealthChanged: { state: "FAILING", endpoint: { name: "billing", secret: { version: 1 } } } },
      ]);
    }
    expect(counting.texts.length, counting.texts.join("\n")).toBeLessThanOrEqual(MAX_STATEMENTS);
  });

  it("gives subscribers with different selections of one delivery each what its own selection asks for", async () => {
    const { tenant, token } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    await createEndpoint(tenant.id, { name: "orders", url: "https://hooks.example.com/in" }, origin, testServices);
    await publishEvents(tenant.id, [{ eventType: "order.created", payload: { n: 1 } }], false);
    const delivery = await prisma.delivery.findFirstOrThrow({ where: { tenantId: tenant.id } });

    const plain = manySubscribers<{ deliveryUpdated: unknown }>(
      token,
      `subscription { deliveryUpdated { status } }`,
      3,
    );
    const nested = manySubscribers<{ deliveryUpdated: unknown }>(
      token,
      `subscription { deliveryUpdated { status attempts { number } event { eventType } request { body } } }`,
      3,
    );
    await subscribersJoined("delivery:updated", tenant.id, 6);
    publishMany("delivery:updated", tenant.id, [
      { deliveryId: delivery.id, endpointId: delivery.endpointId, eventId: delivery.eventId, status: delivery.status },
    ]);
    const everyone = [...plain.received, ...nested.received];
    await until(
      async () => everyone.filter((into) => into.data.length > 0 || into.errors.length > 0).length,
      (n) => n === everyone.length,
      "every subscriber's change",
    );
    await disposeAll([...plain.clients, ...nested.clients]);

    for (const into of plain.received) {
      expect(into.errors).toEqual([]);
      expect(into.data).toEqual([{ deliveryUpdated: { status: "PENDING" } }]);
    }
    for (const into of nested.received) {
      expect(into.errors).toEqual([]);
      expect(into.data).toEqual([
        {
          deliveryUpdated: {
            status: "PENDING",
            attempts: [],
            event: { eventType: "order.created" },
            request: { body: expect.stringContaining('"data":{"n":1}') },
          },
        },
      ]);
    }
  });

  it("gives each of two tenants subscribed at once only its own events, even for a notice naming the other's", async () => {
    const alpha = await seed.tenantWithKey();
    const beta = await seed.tenantWithKey();
    for (const { tenant } of [alpha, beta]) await seedEventType(tenant.id, "order.created");
    const alphaSide = manySubscribers<Published>(alpha.token, EVENT_PUBLISHED, 5);
    const betaSide = manySubscribers<Published>(beta.token, EVENT_PUBLISHED, 5);
    await subscribersJoined("event:published", alpha.tenant.id, 5);
    await subscribersJoined("event:published", beta.tenant.id, 5);

    const events = (count: number) =>
      Array.from({ length: count }, (_, n) => ({ eventType: "order.created", payload: { n } }));
    const [alphaEvents, betaEvents] = await Promise.all([
      publishEvents(alpha.tenant.id, events(4), true),
      publishEvents(beta.tenant.id, events(4), true),
    ]);
    const alphaIds = alphaEvents.map((result) => result.event.id);
    const betaIds = betaEvents.map((result) => result.event.id);
    // A notice on beta's topic naming alpha's event, in the same NOTIFY as alpha's own notice of it: however the read
    // is shared, beta's subscribers must be refused the row alpha's subscribers receive.
    const [leaked] = alphaIds as [string];
    publishMany("event:published", alpha.tenant.id, [{ eventId: leaked, eventType: "order.created" }]);
    publishMany("event:published", beta.tenant.id, [{ eventId: leaked, eventType: "order.created" }]);

    const idsOf = (into: Received<Published>) => into.data.map((data) => uuidOf(data.eventPublished.eventId));
    await until(
      async () => [
        ...alphaSide.received.map((into) => into.data.length),
        ...betaSide.received.map((into) => into.data.length + into.errors.length),
      ],
      (counts) => counts.every((n) => n === 5),
      "both tenants' events and the refused notice",
    );
    await disposeAll([...alphaSide.clients, ...betaSide.clients]);

    for (const into of alphaSide.received) {
      expect(into.errors).toEqual([]);
      expect(idsOf(into)).toEqual([...alphaIds, leaked]);
    }
    for (const into of betaSide.received) {
      expect(idsOf(into)).toEqual(betaIds);
      expect(into.errors).toEqual([{ code: "NOT_FOUND", message: "No event with that id" }]);
    }
  });
});
