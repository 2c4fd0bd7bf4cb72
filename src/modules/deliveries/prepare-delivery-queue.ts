import { pool } from "../../db/prisma.js";
import { prepareJobQueues } from "../../jobs/kit/queue.js";
import type { Logger } from "../../logger.js";
import { DELIVERY_QUEUE, scheduleDeliveries } from "./delivery-jobs.js";
import { deliveriesWithoutJobPages } from "./delivery-store.js";

/**
 * Creates pg-boss's schema and the delivery queue if they are missing (or updates the queue's settings), wherever the
 * database is migrated (start-up, `signalpost migrate`, the test template), then gives every waiting delivery that
 * has no job one (see {@link scheduleOrphanedDeliveries}).
 */
export async function prepareDeliveryQueue(databaseUrl: string, logger: Logger): Promise<void> {
  await prepareJobQueues(databaseUrl, [DELIVERY_QUEUE]);
  await scheduleOrphanedDeliveries(logger);
}

/**
 * Schedules the waiting deliveries no job names: those written before pg-boss scheduled deliveries (an upgrade), by an
 * older process still running during a rolling upgrade, or left when pg-boss gave up on a job. Run at every start and
 * hourly by the retention job, so no waiting delivery is stranded for longer than that. Returns how many.
 */
export async function scheduleOrphanedDeliveries(logger: Logger): Promise<number> {
  let scheduled = 0;
  for await (const waiting of deliveriesWithoutJobPages()) {
    await scheduleDeliveries(pool, waiting);
    scheduled += waiting.length;
  }
  if (scheduled) logger.info({ deliveries: scheduled }, "waiting deliveries without a job were scheduled");
  return scheduled;
}
