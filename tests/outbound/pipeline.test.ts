import PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool, prisma } from "../../src/db/prisma.js";
import { JOB_SCHEMA } from "../../src/jobs/kit/schema.js";
import { messageId } from "../../src/modules/deliveries/delivery-sender.js";
import { DELIVERY_WAKE_QUEUE, RETIRED_DELIVERY_QUEUE } from "../../src/modules/deliveries/delivery-wake-ups.js";
import { prepareDeliveryQueue } from "../../src/modules/deliveries/prepare-delivery-queue.js";
import { cancelScheduledEvent, publishEvents } from "../../src/modules/events/events.service.js";
import { rowIdOf } from "../support/ids.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

// The Delivery rows are the ledger; pg-boss holds only wake-ups for deliveries due later
// (src/modules/deliveries/delivery-wake-ups.ts). These tests read both, and run real dispatchers against them.

interface WakeUpRow {
  id: string;
  state: string;
  startAfter: Date;
}

/** The wake-up jobs starting in [from, to). */
async function wakeUpsBetween(from: Date, to: Date): Promise<WakeUpRow[]> {
  const { rows } = await pool.query<WakeUpRow>(
    `SELECT id, state::text, start_after AS "startAfter" FROM ${JOB_SCHEMA}.job
     WHERE name = $1 AND start_after >= $2 AND start_after < $3 ORDER BY start_after`,
    [DELIVERY_WAKE_QUEUE.name, from, to],
  );
  return rows;
}

async function wakeUpCount(): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${JOB_SCHEMA}.job WHERE name = $1`, [
    DELIVERY_WAKE_QUEUE.name,
  ]);
  return rows[0]?.n ?? 0;
}

/** A tenant with an event type and `endpoints` endpoints on `receiver`. */
async function tenantWithEndpoints(receiver: TestReceiver, endpoints = 1, input: Record<string, unknown> = {}) {
  const { tenant, headers } = await seed.tenantWithKey();
  await seedEventType(tenant.id, "order.created");
  const api = outboundApi(headers);
  for (let n = 0; n < endpoints; n += 1) await api.createEndpoint({ url: receiver.url, ...input });
  return { tenant, api };
}

async function deliveriesOf(eventIds: readonly string[]) {
  return prisma.delivery.findMany({ where: { eventId: { in: eventIds.map(rowIdOf) } } });
}

describe("what a publish stores", () => {
  let receiver: TestReceiver;
  let idle: Delivering;
  beforeAll(async () => {
    receiver = await TestReceiver.start();
    // The outbound rules of a worker (loopback receivers allowed), without a dispatcher: what is stored stays waiting.
    idle = await startDelivering({ dispatch: false });
  });
  afterAll(async () => {
    // What these tests stored stays waiting on purpose; the workers below must not inherit it: its receiver is
    // closed, and by then its port may belong to another file's server that never answers (one CI run timed out so).
    await pool.query(
      `UPDATE "Delivery" SET status = 'CANCELLED', "completedAt" = now() WHERE status IN ('PENDING', 'SENDING')`,
    );
    await idle.stop();
    await receiver.close();
  });

  it("stores deliveries due now as waiting rows and no job: the rows are the ledger", async () => {
    const { tenant } = await tenantWithEndpoints(receiver, 3);
    const jobsBefore = await wakeUpCount();
    const inputs = Array.from({ length: 50 }, (_, n) => ({ eventType: "order.created", payload: { n } }));
    const published = await publishEvents(tenant.id, inputs, true);
    const deliveries = await deliveriesOf(published.map((result) => result.event.id));
    expect(deliveries).toHaveLength(150);
    expect(deliveries.every((delivery) => delivery.status === "PENDING")).toBe(true);
    expect(deliveries.every((delivery) => delivery.dueAt.getTime() <= Date.now())).toBe(true);
    expect(await wakeUpCount()).toBe(jobsBefore);
  });

  it("stores nothing when the publish fails: no events, no deliveries, no wake-ups", async () => {
    const { tenant } = await tenantWithEndpoints(receiver, 1);
    const before = await wakeUpCount();
    const deliverAt = new Date(Date.now() + 7_200_000);
    // The second input repeats the first's idempotency key: the whole batch is refused.
    await expect(
      publishEvents(
        tenant.id,
        [
          { eventType: "order.created", payload: {}, idempotencyKey: "same", deliverAt },
          { eventType: "order.created", payload: {}, idempotencyKey: "same", deliverAt },
        ],
        true,
      ),
    ).rejects.toThrow(/twice/);
    expect(await wakeUpCount()).toBe(before);
    expect(await prisma.event.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it("stores one wake-up for a deliverAt publish, at the end of its second, shared by everything due then", async () => {
    const { tenant } = await tenantWithEndpoints(receiver, 2);
    const deliverAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_250);
    const second = new Date(Math.ceil(deliverAt.getTime() / 1000) * 1000);
    const [first] = await publishEvents(tenant.id, [{ eventType: "order.created", payload: {}, deliverAt }], false);
    // A second publish due in the same second, and a batch of ten: still one job for that second.
    await publishEvents(tenant.id, [{ eventType: "order.created", payload: {}, deliverAt }], false);
    await publishEvents(
      tenant.id,
      Array.from({ length: 10 }, () => ({ eventType: "order.created", payload: {}, deliverAt })),
      true,
    );
    const wakeUps = await wakeUpsBetween(new Date(second.getTime() - 2_000), new Date(second.getTime() + 2_000));
    expect(wakeUps.map((job) => [job.state, job.startAfter.getTime()])).toEqual([["created", second.getTime()]]);
    const deliveries = await deliveriesOf([first?.event.id as string]);
    expect(deliveries.map((delivery) => delivery.dueAt.getTime())).toEqual([deliverAt.getTime(), deliverAt.getTime()]);
  });
});

describe("workers", () => {
  it("two dispatchers claiming one ledger send each delivery exactly once", async () => {
    const receiver = await TestReceiver.start();
    const first = await startDelivering({ concurrency: 8 });
    const second = await startDelivering({ concurrency: 8 });
    try {
      const { tenant } = await tenantWithEndpoints(receiver, 2);
      const published = [];
      for (let batch = 0; batch < 3; batch += 1) {
        const inputs = Array.from({ length: 100 }, (_, n) => ({ eventType: "order.created", payload: { batch, n } }));
        published.push(...(await publishEvents(tenant.id, inputs, true)));
      }
      const eventIds = published.map((result) => result.event.id);
      await until(
        () => prisma.delivery.count({ where: { eventId: { in: eventIds.map(rowIdOf) }, status: "SUCCEEDED" } }),
        (count) => count === 600,
        "600 deliveries sent",
        60_000,
      );
      // Each (event, endpoint) pair arrived once: 300 webhook-ids, each exactly twice (two endpoints).
      const perMessage = new Map<string, number>();
      for (const request of receiver.requests) {
        const id = String(request.headers["webhook-id"]);
        perMessage.set(id, (perMessage.get(id) ?? 0) + 1);
      }
      expect(perMessage.size).toBe(300);
      expect([...perMessage.values()].every((count) => count === 2)).toBe(true);
      expect(new Set(perMessage.keys())).toEqual(new Set(eventIds.map(messageId)));
    } finally {
      await first.stop();
      await second.stop();
      await receiver.close();
    }
  });

  it("a retry's wake-up outlives the worker and wakes a new one that would otherwise sleep for a minute", async () => {
    const receiver = await TestReceiver.start();
    receiver.respondWith((n) => ({ status: n === 1 ? 503 : 200 }));
    let delivering: Delivering = await startDelivering();
    try {
      const { api } = await tenantWithEndpoints(receiver, 1, { retryPolicy: { delaysSeconds: [3] } });
      const published = await api.publish({ eventType: "order.created", payload: { retried: true } });
      const deliveryId = (await deliveriesOf([published.event.id]))[0]?.id as string;
      const waiting = await until(
        () => prisma.delivery.findUniqueOrThrow({ where: { id: deliveryId } }),
        (delivery) => delivery.attemptCount === 1,
        "the first attempt",
      );
      expect(waiting.status).toBe("PENDING");
      // The worker stops before the retry is due; the retry's wake-up is a pg-boss job that outlives it.
      await delivering.stop();
      const second = Math.ceil(waiting.dueAt.getTime() / 1000) * 1000;
      const [wakeUp] = await wakeUpsBetween(new Date(second), new Date(second + 1));
      expect(wakeUp?.state).toBe("created");

      // Its idle poll is a minute: only the wake-up can bring the retry out on time (the test would time out).
      delivering = await startDelivering({ pollIntervalMs: 60_000 });
      const delivered = await until(
        () => prisma.delivery.findUniqueOrThrow({ where: { id: deliveryId } }),
        (delivery) => delivery.status === "SUCCEEDED",
        "the retry, sent by the new worker",
        20_000,
      );
      expect(delivered.attemptCount).toBe(2);
      expect(delivered.lastAttemptAt?.getTime()).toBeGreaterThanOrEqual(waiting.dueAt.getTime());
      expect(receiver.requests.map((request) => request.headers["webhook-id"])).toEqual([
        published.event.messageId,
        published.event.messageId,
      ]);
      expect((await wakeUpsBetween(new Date(second), new Date(second + 1)))[0]?.state).toBe("completed");
    } finally {
      await delivering.stop();
      await receiver.close();
    }
  });

  it("a cancelled deliverAt publish sends nothing when its second's wake-up runs", async () => {
    const receiver = await TestReceiver.start();
    const delivering = await startDelivering({ pollIntervalMs: 60_000 });
    try {
      const { tenant } = await tenantWithEndpoints(receiver, 2);
      const deliverAt = new Date(Date.now() + 2_500);
      const [kept] = await publishEvents(
        tenant.id,
        [{ eventType: "order.created", payload: { kept: true }, deliverAt }],
        false,
      );
      const [cancelled] = await publishEvents(
        tenant.id,
        [{ eventType: "order.created", payload: { kept: false }, deliverAt }],
        false,
      );
      await cancelScheduledEvent(tenant.id, cancelled?.event.id as string);
      // The kept event's two deliveries arrive (woken by the shared wake-up), the cancelled one's never do.
      await receiver.waitForRequests(2);
      const second = Math.ceil(deliverAt.getTime() / 1000) * 1000;
      await until(
        async () => (await wakeUpsBetween(new Date(second), new Date(second + 1)))[0]?.state,
        (state) => state === "completed",
        "the wake-up ran",
      );
      await until(
        () => deliveriesOf([kept?.event.id as string]),
        (rows) => rows.every((row) => row.status === "SUCCEEDED"),
        "the kept deliveries recorded",
      );
      const cancelledRows = await deliveriesOf([cancelled?.event.id as string]);
      expect(cancelledRows.map((row) => [row.status, row.attemptCount])).toEqual([
        ["CANCELLED", 0],
        ["CANCELLED", 0],
      ]);
      const keptMessage = messageId(kept?.event.id as string);
      expect(receiver.requests.map((request) => request.headers["webhook-id"])).toEqual([keptMessage, keptMessage]);
    } finally {
      await delivering.stop();
      await receiver.close();
    }
  });

  it("an upgrade from jobs that named deliveries retires their queue and sends each waiting row once", async () => {
    const receiver = await TestReceiver.start();
    const idle = await startDelivering({ dispatch: false });
    const { tenant } = await tenantWithEndpoints(receiver, 1);
    const published = await publishEvents(
      tenant.id,
      Array.from({ length: 5 }, (_, n) => ({ eventType: "order.created", payload: { n } })),
      true,
    );
    const deliveryIds = (await deliveriesOf(published.map((result) => result.event.id))).map((row) => row.id);
    await idle.stop();
    // As a database of the previous version: its queue of jobs, each naming deliveries (here two jobs naming the same
    // rows, as a job retried after expiring did).
    const boss = new PgBoss({ connectionString: process.env.DATABASE_URL as string, schema: JOB_SCHEMA });
    boss.on("error", () => undefined);
    await boss.start();
    await boss.createQueue(RETIRED_DELIVERY_QUEUE);
    await boss.insert([
      { name: RETIRED_DELIVERY_QUEUE, data: { deliveryIds } },
      { name: RETIRED_DELIVERY_QUEUE, data: { deliveryIds } },
    ]);
    // One of them in a worker's hands (active), as an older process still running would hold it.
    expect(await boss.fetch(RETIRED_DELIVERY_QUEUE)).toHaveLength(1);

    await prepareDeliveryQueue(process.env.DATABASE_URL as string);
    expect(await boss.getQueue(RETIRED_DELIVERY_QUEUE)).toBeNull();
    await boss.stop({ graceful: false, wait: true });
    const delivering = await startDelivering();
    try {
      await until(
        () => prisma.delivery.count({ where: { id: { in: deliveryIds }, status: "SUCCEEDED" } }),
        (count) => count === 5,
        "the five waiting rows sent",
      );
      expect(receiver.requests).toHaveLength(5);
    } finally {
      await delivering.stop();
      await receiver.close();
    }
  });
});
