import { describe, expect, it } from "vitest";
import { pool, prisma } from "../../src/db/prisma.js";
import { allJobs } from "../../src/jobs/index.js";
import { startJobQueue } from "../../src/jobs/kit/queue.js";
import { logger } from "../../src/logger.js";
import { recordConsoleEvent } from "../../src/modules/console/console-events.js";
import { pruneOldRecords } from "../../src/modules/retention/retention.service.js";
import { seed, seedEventType } from "../support/seed.js";

const DAY = 86_400_000;

/** A delivery with one attempt `ageDays` old, and a console event of the same age. */
async function oldRecords(tenantId: string, ageDays: number): Promise<void> {
  const at = new Date(Date.now() - ageDays * DAY);
  const endpoint = await prisma.endpoint.create({
    data: { tenantId, name: `e-${ageDays}-${Math.random()}`, url: "https://example.com/hook", eventTypes: [] },
  });
  const event = await prisma.event.create({ data: { tenantId, eventType: "order.created", payload: {} } });
  const delivery = await prisma.delivery.create({
    data: { tenantId, eventId: event.id, endpointId: endpoint.id, eventType: "order.created", status: "SUCCEEDED" },
  });
  await prisma.deliveryAttempt.create({
    data: {
      tenantId,
      deliveryId: delivery.id,
      endpointId: endpoint.id,
      number: 1,
      trigger: "SCHEDULED",
      statusCode: 200,
      durationMs: 5,
      createdAt: at,
    },
  });
  await recordConsoleEvent({ tenantId, kind: "TEST_SENT", data: { ageDays } });
  await pool.query(`UPDATE "ConsoleEvent" SET "createdAt" = $2 WHERE "tenantId" = $1 AND data->>'ageDays' = $3`, [
    tenantId,
    at,
    String(ageDays),
  ]);
}

async function counts(tenantId: string) {
  return {
    attempts: await prisma.deliveryAttempt.count({ where: { tenantId } }),
    consoleEvents: await prisma.consoleEvent.count({ where: { tenantId, kind: "TEST_SENT" } }),
  };
}

describe("retention", () => {
  it("deletes attempts and console events past each tenant's retention, and keeps the rest", async () => {
    const defaults = await seed.tenantWithKey();
    const strict = await seed.tenantWithKey();
    for (const { tenant } of [defaults, strict]) {
      await seedEventType(tenant.id, "order.created");
      for (const ageDays of [1, 5, 40]) await oldRecords(tenant.id, ageDays);
    }
    await prisma.tenantSettings.create({
      data: { tenantId: strict.tenant.id, values: { attemptRetentionDays: 3, consoleRetentionDays: 2 } },
    });

    await pruneOldRecords();
    // Defaults: attempts 30 days, console events 7 days.
    expect(await counts(defaults.tenant.id)).toEqual({ attempts: 2, consoleEvents: 2 });
    expect(await counts(strict.tenant.id)).toEqual({ attempts: 1, consoleEvents: 1 });
    // The deliveries themselves stay.
    expect(await prisma.delivery.count({ where: { tenantId: strict.tenant.id } })).toBe(3);
  });

  it("forgets inbound message ids past their replay window, and keeps the rest", async () => {
    const { tenant } = await seed.tenantWithKey();
    const agent = await prisma.agent.create({ data: { tenantId: tenant.id, name: "hooks", encryptedSecret: "x" } });
    // A webhook-id is kept 15 minutes (its timestamp ages out after 5, an HMAC body hash after 15); a GitHub
    // delivery id 72 hours.
    const ids = {
      "recent-webhook-id": "14 minutes",
      "expired-webhook-id": "16 minutes",
      "github:recent": "1 hour",
      "github:expired": "73 hours",
    };
    for (const [messageId, age] of Object.entries(ids)) {
      await pool.query(
        `INSERT INTO "InboundMessage" ("agentId", "messageId", "receivedAt") VALUES ($1, $2, now() - $3::interval)`,
        [agent.id, messageId, age],
      );
    }

    const report = await pruneOldRecords();

    const kept = await prisma.inboundMessage.findMany({ where: { agentId: agent.id }, orderBy: { messageId: "asc" } });
    expect(kept.map((row) => row.messageId)).toEqual(["github:recent", "recent-webhook-id"]);
    expect(report.inboundMessageIds).toBe(2);
  });

  it("runs hourly on pg-boss's schedule once a worker has started", async () => {
    const queue = await startJobQueue(process.env.DATABASE_URL as string, allJobs, logger, { work: true });
    try {
      const schedules = await queue.boss.getSchedules();
      expect(schedules).toEqual([expect.objectContaining({ name: "retention.prune", cron: "7 * * * *" })]);
    } finally {
      await queue.stop(1_000);
    }
  });
});
