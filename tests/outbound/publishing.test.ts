import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { execute, testServices } from "../support/graphql.js";
import { gid, uuidOf } from "../support/ids.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";

// No dispatcher in this file: it checks what publishing writes, so deliveries stay PENDING.
beforeAll(() => testServices.outboundRules.apply({ allowInsecureUrls: false }));

const ORDER_SCHEMA = {
  type: "object",
  required: ["orderId", "total"],
  properties: { orderId: { type: "integer" }, total: { type: "number", minimum: 0 } },
  additionalProperties: false,
};

async function tenantWithEndpoints() {
  const { tenant, headers } = await seed.tenantWithKey();
  await seedEventType(tenant.id, "order.created", ORDER_SCHEMA);
  await seedEventType(tenant.id, "order.shipped");
  const api = outboundApi(headers);
  const all = await api.createEndpoint({ url: "https://all.example.com/in" });
  const orders = await api.createEndpoint({ url: "https://orders.example.com/in", eventTypes: ["order.created"] });
  const off = await api.createEndpoint({ url: "https://off.example.com/in" });
  await api.run(`mutation ($id: ID!) { disableEndpoint(id: $id) { __typename } }`, { id: off.id });
  return { tenant, headers, api, endpoints: { all, orders, off } };
}

describe("publishing", () => {
  it("creates one delivery per subscribed enabled endpoint, in the same transaction", async () => {
    const { api, endpoints } = await tenantWithEndpoints();
    const created = await api.publish({ eventType: "order.created", payload: { orderId: 1, total: 10 } });
    expect(created).toMatchObject({ __typename: "PublishedEvent", deliveryCount: 2, duplicate: false });
    const shipped = await api.publish({ eventType: "order.shipped", payload: { anything: true } });
    expect(shipped.deliveryCount).toBe(1);
    const deliveries = await prisma.delivery.findMany({ where: { eventId: uuidOf(created.event.id) } });
    expect(deliveries.map((delivery) => gid("Endpoint", delivery.endpointId)).sort()).toEqual(
      [endpoints.all.id, endpoints.orders.id].sort(),
    );
    expect(deliveries.every((delivery) => delivery.status === "PENDING")).toBe(true);
    expect(created.event.messageId).toBe(`msg_${uuidOf(created.event.id).replace(/-/g, "")}`);
  });

  it.each([
    [
      { eventType: "order.created", payload: { orderId: "1", total: 10 } },
      "payload",
      "payload/orderId must be integer",
    ],
    [{ eventType: "order.created", payload: { orderId: 1 } }, "payload", "must have required property 'total'"],
    [
      { eventType: "order.created", payload: { orderId: 1, total: 1, extra: 1 } },
      "payload",
      "must NOT have additional properties (extra)",
    ],
    [{ eventType: "order.refunded", payload: {} }, "eventType", 'unknown event type "order.refunded"'],
    [{ eventType: "order.shipped", payload: { blob: "x".repeat(262_200) } }, "payload", "larger than 256 KB"],
    [{ eventType: "order.shipped", payload: {}, deliverAt: "2099-01-01T00:00:00Z" }, "deliverAt", "within 30 days"],
  ])("refuses %j with a ValidationError on %s and writes nothing", async (input, field, message) => {
    const { api, tenant } = await tenantWithEndpoints();
    const result = await api.publish(input);
    expect(result).toMatchObject({ __typename: "ValidationError", field });
    expect(result.message).toContain(message);
    expect(await prisma.event.count({ where: { tenantId: tenant.id } })).toBe(0);
    expect(await prisma.delivery.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it("refuses an archived event type", async () => {
    const { api, tenant } = await tenantWithEndpoints();
    const type = await prisma.eventType.findFirstOrThrow({ where: { tenantId: tenant.id, name: "order.shipped" } });
    await api.run(`mutation ($id: ID!) { archiveEventType(id: $id) { __typename } }`, {
      id: gid("EventType", type.id),
    });
    const result = await api.publish({ eventType: "order.shipped", payload: {} });
    expect(result).toMatchObject({
      __typename: "ValidationError",
      field: "eventType",
      message: 'event type "order.shipped" is archived',
    });
  });

  it("honours a type changed behind this process's back (another instance) at the next publish", async () => {
    // The publishing side remembers types; the insert re-checks each row's version, so this write straight to the
    // database (what another instance's updateEventType looks like from here) must be seen at once.
    const { api, tenant } = await tenantWithEndpoints();
    const valid = { eventType: "order.created", payload: { orderId: 1, total: 50 } };
    expect(await api.publish(valid)).toMatchObject({ __typename: "PublishedEvent" });
    const stricter = {
      ...ORDER_SCHEMA,
      properties: { ...ORDER_SCHEMA.properties, total: { type: "number", maximum: 5 } },
    };
    await prisma.$executeRaw`UPDATE "EventType" SET schema = ${JSON.stringify(stricter)}::jsonb
      WHERE "tenantId" = ${tenant.id}::uuid AND name = 'order.created'`;
    expect(await api.publish(valid)).toMatchObject({
      __typename: "ValidationError",
      field: "payload",
      message: expect.stringContaining("must be <= 5"),
    });
    await prisma.$executeRaw`UPDATE "EventType" SET "archivedAt" = now()
      WHERE "tenantId" = ${tenant.id}::uuid AND name = 'order.created'`;
    const batch = await api.run<{ publishEvents: { __typename: string; field?: string; message?: string } }>(
      `mutation ($events: [PublishEventInput!]!) { publishEvents(events: $events) { __typename ... on Error { field message } } }`,
      {
        events: [
          { eventType: "order.shipped", payload: {} },
          { ...valid, payload: { orderId: 2, total: 1 } },
        ],
      },
    );
    expect(batch.publishEvents).toMatchObject({ __typename: "ValidationError", field: "events.1.eventType" });
    expect(await prisma.event.count({ where: { tenantId: tenant.id } })).toBe(1);
  });

  it("writes concurrent single publishes of two tenants together, each to its own tenant, a changed type checked again", async () => {
    // Publishes that arrive while one is being written share the next statement (one per tenant). One tenant's
    // order.created changed behind this process's back: its statement inserts nothing, so that tenant's publishes are
    // written one by one, those of the changed type checked again and refused, its order.shipped ones written.
    const first = await tenantWithEndpoints();
    const second = await tenantWithEndpoints();
    const created = (i: number) => ({ eventType: "order.created", payload: { orderId: i, total: 50 } });
    const shipped = (i: number) => ({ eventType: "order.shipped", payload: { orderId: i } });
    expect(await second.api.publish(created(0))).toMatchObject({ __typename: "PublishedEvent" });
    const stricter = {
      ...ORDER_SCHEMA,
      properties: { ...ORDER_SCHEMA.properties, total: { type: "number", maximum: 5 } },
    };
    await prisma.$executeRaw`UPDATE "EventType" SET schema = ${JSON.stringify(stricter)}::jsonb
      WHERE "tenantId" = ${second.tenant.id}::uuid AND name = 'order.created'`;
    const inputs = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0
        ? { api: first.api, input: created(i), expected: { __typename: "PublishedEvent", deliveryCount: 2 } }
        : i % 3 === 1
          ? {
              api: second.api,
              input: created(i),
              expected: { __typename: "ValidationError", message: expect.stringContaining("<= 5") },
            }
          : { api: second.api, input: shipped(i), expected: { __typename: "PublishedEvent", deliveryCount: 1 } },
    );
    const results = await Promise.all(inputs.map(({ api, input }) => api.publish(input)));
    for (const [i, result] of results.entries()) expect(result).toMatchObject(inputs[i]?.expected ?? {});
    const orderIds = async (tenantId: string) =>
      (await prisma.event.findMany({ where: { tenantId } }))
        .map((event) => (event.payload as { orderId: number }).orderId)
        .sort((a, b) => a - b);
    const every = (from: number) => Array.from({ length: 10 }, (_, k) => from + 3 * k);
    expect(await orderIds(first.tenant.id)).toEqual(every(0));
    expect(await orderIds(second.tenant.id)).toEqual([0, ...every(2)]);
    // Every delivery is to one of its own tenant's endpoints.
    for (const { tenant, endpoints } of [first, second]) {
      const own = new Set([endpoints.all.id, endpoints.orders.id].map(uuidOf));
      const deliveries = await prisma.delivery.findMany({ where: { tenantId: tenant.id } });
      expect(deliveries.length).toBeGreaterThan(0);
      expect(deliveries.every((delivery) => own.has(delivery.endpointId))).toBe(true);
    }
  });

  it("returns the first event for a repeated idempotency key within 24 h and creates no deliveries", async () => {
    const { api, tenant } = await tenantWithEndpoints();
    const first = await api.publish({ eventType: "order.shipped", payload: { n: 1 }, idempotencyKey: "ship-1" });
    const again = await api.publish({ eventType: "order.shipped", payload: { n: 2 }, idempotencyKey: "ship-1" });
    expect(again).toMatchObject({ duplicate: true, deliveryCount: 0, event: { id: first.event.id } });
    expect(await prisma.delivery.count({ where: { tenantId: tenant.id } })).toBe(1);

    // After 24 hours the key is free again.
    await prisma.event.update({
      where: { id: uuidOf(first.event.id) },
      data: { createdAt: new Date(Date.now() - 25 * 3_600_000) },
    });
    const later = await api.publish({ eventType: "order.shipped", payload: { n: 3 }, idempotencyKey: "ship-1" });
    expect(later).toMatchObject({ duplicate: false, deliveryCount: 1 });
    expect(later.event.id).not.toBe(first.event.id);
  });

  it("publishes a batch all or nothing, naming the bad input", async () => {
    const { headers, tenant } = await tenantWithEndpoints();
    const batch = `mutation ($events: [PublishEventInput!]!) { publishEvents(events: $events) {
      __typename ... on PublishedEvents { results { deliveryCount duplicate } } ... on Error { field message } } }`;
    const bad = await execute<{ publishEvents: { __typename: string; field: string } }>(
      batch,
      {
        events: [
          { eventType: "order.shipped", payload: {} },
          { eventType: "order.created", payload: { orderId: "x" } },
        ],
      },
      headers,
    );
    expect(bad.data?.publishEvents).toMatchObject({ __typename: "ValidationError", field: "events.1.payload" });
    expect(await prisma.event.count({ where: { tenantId: tenant.id } })).toBe(0);

    const good = await execute<{ publishEvents: { results: { deliveryCount: number }[] } }>(
      batch,
      {
        events: [
          { eventType: "order.shipped", payload: {} },
          { eventType: "order.created", payload: { orderId: 2, total: 0 } },
        ],
      },
      headers,
    );
    expect(good.data?.publishEvents.results.map((result) => result.deliveryCount)).toEqual([1, 2]);
    const tooMany = await execute<{ publishEvents: { field: string } }>(
      batch,
      { events: Array.from({ length: 101 }, () => ({ eventType: "order.shipped", payload: {} })) },
      headers,
    );
    expect(tooMany.data?.publishEvents).toMatchObject({ field: "events" });
  });

  it("schedules deliveries with deliverAt and cancels them before they go out", async () => {
    const { api, headers } = await tenantWithEndpoints();
    const at = new Date(Date.now() + 3_600_000);
    const scheduled = await api.publish({ eventType: "order.shipped", payload: {}, deliverAt: at.toISOString() });
    const [delivery] = await prisma.delivery.findMany({ where: { eventId: uuidOf(scheduled.event.id) } });
    expect(delivery?.dueAt.toISOString()).toBe(at.toISOString());

    const cancel = `mutation ($id: ID!) { cancelScheduledEvent(id: $id) { __typename ... on Event { cancelledAt } ... on Error { field message } } }`;
    const cancelled = await execute<{ cancelScheduledEvent: { __typename: string; cancelledAt: string } }>(
      cancel,
      { id: scheduled.event.id },
      headers,
    );
    expect(cancelled.data?.cancelScheduledEvent.__typename).toBe("Event");
    expect((await prisma.delivery.findFirstOrThrow({ where: { eventId: uuidOf(scheduled.event.id) } })).status).toBe(
      "CANCELLED",
    );

    const immediate = await api.publish({ eventType: "order.shipped", payload: {} });
    const refused = await execute<{ cancelScheduledEvent: { __typename: string } }>(
      cancel,
      { id: immediate.event.id },
      headers,
    );
    expect(refused.data?.cancelScheduledEvent.__typename).toBe("ConflictError");
  });
});
