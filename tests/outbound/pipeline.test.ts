import PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool, prisma } from "../../src/db/prisma.js";
import { JOB_SCHEMA } from "../../src/jobs/kit/schema.js";
import { logger } from "../../src/logger.js";
import { DELIVERY_QUEUE } from "../../src/modules/deliveries/delivery-jobs.js";
import { messageId } from "../../src/modules/deliveries/delivery-sender.js";
import {
  prepareDeliveryQueue,
  scheduleOrphanedDeliveries,
} from "../../src/modules/deliveries/prepare-delivery-queue.js";
import { cancelScheduledEvent, publishEvents } from "../../src/modules/events/events.service.js";
import { rowIdOf } from "../support/ids.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

// pg-boss schedules outbound work (src/modules/deliveries/delivery-jobs.ts): these tests read its job table to see
// what was scheduled, and run real dispatchers against it.

interface JobRow {
  id: string;
  state: string;
  startAfter: Date;
  deliveryIds: string[];
}

async function deliveryJobsFor(deliveryIds: readonly string[]): Promise<JobRow[]> {
  const { rows } = await pool.query<JobRow>(
    `SELECT id, state::text, start_after AS "startAfter", ARRAY(SELECT jsonb_array_elements_text(data->'deliveryIds')) AS "deliveryIds"
     FROM ${JOB_SCHEMA}.job WHERE name = $1 AND data->'deliveryIds' ?| $2::text[] ORDER BY created_on`,
    [DELIVERY_QUEUE.name, deliveryIds],
  );
  return rows;
}

/** A tenant with an event type and `endpoints` endpoints on `receiver`. */
async function tenantWithEndpoints(receiver: TestReceiver, endpoints = 1, input: Record<string, unknown> = {}) {
  const { tenant, headers } = await seed.tenantWithKey();
  await seedEventType(tenant.id, "order.created");
  const api = outboundApi(headers);
  for (let n = 0; n < endpoints; n += 1) await api.createEndpoint({ url: receiver.url, ...input });
  return { tenant, api };
}

async function deliveryIdsOf(eventIds: readonly string[]): Promise<string[]> {
  const rows = await prisma.delivery.findMany({
    where: { eventId: { in: eventIds.map(rowIdOf) } },
    select: { id: true },
  });
  return rows.map((row) => row.id);
}

describe("what a publish schedules", () => {
  let receiver: TestReceiver;
  let idle: Delivering;
  beforeAll(async () => {
    receiver = await TestReceiver.start();
    // The outbound rules of a worker (loopback receivers allowed), without a dispatcher: the jobs stay waiting.
    idle = await startDelivering({ dispatch: false });
  });
  afterAll(async () => {
    // What these tests scheduled stays waiting on purpose; the workers below must not inherit it: its receiver is
    // closed, and by then its port may belong to another file's server that never answers (one CI run timed out so).
    await pool.query(
      `UPDATE "Delivery" SET status = 'CANCELLED', "completedAt" = now() WHERE status IN ('PENDING', 'SENDING')`,
    );
    await pool.query(`DELETE FROM ${JOB_SCHEMA}.job WHERE name = $1`, [DELIVERY_QUEUE.name]);
    await idle.stop();
    await receiver.close();
  });

  it("stores one job per 100 deliveries due together, in the publish's transaction", async () => {
    const { tenant } = await tenantWithEndpoints(receiver, 3);
    const inputs = Array.from({ length: 50 }, (_, n) => ({ eventType: "order.created", payload: { n } }));
    const published = await publishEvents(tenant.id, inputs, true);
    const deliveryIds = await deliveryIdsOf(published.map((result) => result.event.id));
    expect(deliveryIds).toHaveLength(150);
    const jobs = await deliveryJobsFor(deliveryIds);
    // 150 deliveries due now: two jobs (100 + 50), each naming each delivery once, none twice across jobs.
    expect(jobs.map((job) => job.deliveryIds.length).sort((a, b) => a - b)).toEqual([50, 100]);
    expect(new Set(jobs.flatMap((job) => job.deliveryIds))).toEqual(new Set(deliveryIds));
    expect(jobs.every((job) => job.state === "created")).toBe(true);
  });

  it("stores nothing when the publish fails: no events, no deliveries, no jobs", async () => {
    const { tenant } = await tenantWithEndpoints(receiver, 1);
    const before = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${JOB_SCHEMA}.job WHERE name = $1`, [
      DELIVERY_QUEUE.name,
    ]);
    // The second input repeats the first's idempotency key: the whole batch is refused.
    await expect(
      publishEvents(
        tenant.id,
        [
          { eventType: "order.created", payload: {}, idempotencyKey: "same" },
          { eventType: "order.created", payload: {}, idempotencyKey: "same" },
        ],
        true,
      ),
    ).rejects.toThrow(/twice/);
    const after = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${JOB_SCHEMA}.job WHERE name = $1`, [
      DELIVERY_QUEUE.name,
    ]);
    expect(after.rows[0]?.n).toBe(before.rows[0]?.n);
    expect(await prisma.event.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it("schedules a deliverAt publish as a job starting then, and cancelScheduledEvent cancels it", async () => {
    const { tenant } = await tenantWithEndpoints(receiver, 2);
    const deliverAt = new Date(Date.now() + 3_600_000);
    const [published] = await publishEvents(tenant.id, [{ eventType: "order.created", payload: {}, deliverAt }], false);
    const eventId = published?.event.id as string;
    const deliveryIds = await deliveryIdsOf([eventId]);
    const [job] = await deliveryJobsFor(deliveryIds);
    expect(job?.startAfter.getTime()).toBeGreaterThanOrEqual(deliverAt.getTime());
    expect(job?.startAfter.getTime()).toBeLessThan(deliverAt.getTime() + 1_000);
    expect(new Set(job?.deliveryIds)).toEqual(new Set(deliveryIds));

    await cancelScheduledEvent(tenant.id, eventId);
    const [cancelled] = await deliveryJobsFor(deliveryIds);
    expect(cancelled?.state).toBe("cancelled");
  });
});

describe("workers", () => {
  it("two dispatchers working one queue send each delivery exactly once", async () => {
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
      // And every job is completed once its deliveries are recorded.
      await until(
        async () => (await deliveryJobsFor(await deliveryIdsOf(eventIds))).map((job) => job.state),
        (states) => states.length > 0 && states.every((state) => state === "completed"),
        "the jobs completed",
      );
    } finally {
      await first.stop();
      await second.stop();
      await receiver.close();
    }
  });

  it("schedules a retry as a new job after the attempt, which survives a restart of the worker", async () => {
    const receiver = await TestReceiver.start();
    receiver.respondWith((n) => ({ status: n === 1 ? 503 : 200 }));
    let delivering: Delivering = await startDelivering();
    try {
      const { api } = await tenantWithEndpoints(receiver, 1, { retryPolicy: { delaysSeconds: [2] } });
      const published = await api.publish({ eventType: "order.created", payload: { retried: true } });
      const [deliveryId] = await deliveryIdsOf([published.event.id]);
      const waiting = await until(
        () => prisma.delivery.findUniqueOrThrow({ where: { id: deliveryId } }),
        (delivery) => delivery.attemptCount === 1,
        "the first attempt",
      );
      expect(waiting.status).toBe("PENDING");
      // The worker stops before the retry is due; the retry is a pg-boss job that outlives it.
      await delivering.stop();
      const jobs = await deliveryJobsFor([deliveryId as string]);
      const retry = jobs.find((job) => job.state === "created");
      expect(retry?.startAfter.getTime()).toBeGreaterThanOrEqual(waiting.dueAt.getTime());
      expect(retry?.startAfter.getTime()).toBeLessThan(waiting.dueAt.getTime() + 1_000);

      delivering = await startDelivering();
      const delivered = await until(
        () => prisma.delivery.findUniqueOrThrow({ where: { id: deliveryId } }),
        (delivery) => delivery.status === "SUCCEEDED",
        "the retry, sent by the new worker",
      );
      expect(delivered.attemptCount).toBe(2);
      expect(receiver.requests.map((request) => request.headers["webhook-id"])).toEqual([
        published.event.messageId,
        published.event.messageId,
      ]);
    } finally {
      await delivering.stop();
      await receiver.close();
    }
  });

  it("an upgrade from the table queue schedules the deliveries already waiting", async () => {
    const receiver = await TestReceiver.start();
    const idle = await startDelivering({ dispatch: false });
    const { tenant } = await tenantWithEndpoints(receiver, 1);
    const published = await publishEvents(
      tenant.id,
      Array.from({ length: 5 }, (_, n) => ({ eventType: "order.created", payload: { n } })),
      true,
    );
    const deliveryIds = await deliveryIdsOf(published.map((result) => result.event.id));
    // As a database from before pg-boss scheduled deliveries: waiting rows, no delivery queue, no jobs.
    const boss = new PgBoss({ connectionString: process.env.DATABASE_URL as string, schema: JOB_SCHEMA });
    boss.on("error", () => undefined);
    await boss.start();
    await pool.query(`DELETE FROM ${JOB_SCHEMA}.job WHERE name = $1`, [DELIVERY_QUEUE.name]);
    await boss.deleteQueue(DELIVERY_QUEUE.name);
    await boss.stop({ graceful: false, wait: true });
    expect(await deliveryJobsFor(deliveryIds)).toEqual([]);
    await idle.stop();

    await prepareDeliveryQueue(process.env.DATABASE_URL as string, logger);
    // Every waiting delivery of the database has a job again (these five among them).
    const scheduled = new Set((await deliveryJobsFor(deliveryIds)).flatMap((job) => job.deliveryIds));
    expect(deliveryIds.every((id) => scheduled.has(id))).toBe(true);
    const delivering = await startDelivering();
    try {
      await receiver.waitForRequests(5);
    } finally {
      await delivering.stop();
      await receiver.close();
    }
  });

  it("gives a waiting delivery whose job is gone a job again, and only such deliveries, once", async () => {
    const receiver = await TestReceiver.start();
    const idle = await startDelivering({ dispatch: false });
    try {
      const { tenant } = await tenantWithEndpoints(receiver, 1);
      const published = await publishEvents(
        tenant.id,
        Array.from({ length: 3 }, (_, n) => ({ eventType: "order.created", payload: { n } })),
        true,
      );
      const deliveryIds = await deliveryIdsOf(published.map((result) => result.event.id));
      expect(deliveryIds).toHaveLength(3);
      // As a row written by an older process during a rolling upgrade, or a job pg-boss gave up on: no job names it.
      const [orphan] = deliveryIds as [string];
      const [job] = await deliveryJobsFor([orphan]);
      await pool.query(`UPDATE ${JOB_SCHEMA}.job SET state = 'failed' WHERE id = $1`, [job?.id]);
      const others = deliveryIds.filter((id) => !(job?.deliveryIds ?? []).includes(id));

      expect(await scheduleOrphanedDeliveries(logger)).toBe(job?.deliveryIds.length);
      const active = await deliveryJobsFor(deliveryIds);
      const scheduledOnce = (id: string) =>
        active.filter((row) => row.state !== "failed" && row.deliveryIds.includes(id)).length;
      expect(deliveryIds.map(scheduledOnce)).toEqual([1, 1, 1]);
      expect(others.every((id) => scheduledOnce(id) === 1)).toBe(true);
      // Nothing is left without a job, so a second sweep schedules nothing.
      expect(await scheduleOrphanedDeliveries(logger)).toBe(0);
    } finally {
      await idle.stop();
      await receiver.close();
    }
  });
});
