import { pool } from "../../db/prisma.js";
import { prepareJobQueues } from "../../jobs/kit/queue.js";
import type { Logger } from "../../logger.js";
import { DELIVERY_QUEUE, scheduleDeliveries } from "./delivery-jobs.js";
import { waitingDeliveryPages } from "./delivery-store.js";

/**
 * Creates pg-boss's schema and the delivery queue if they are missing, wherever the database is migrated (start-up,
 * `signalpost migrate`, the test template). When the queue is new, deliveries already waiting (written by a version
 * whose workers read the Delivery table as their queue) get their jobs, so an upgrade strands none.
 */
export async function prepareDeliveryQueue(databaseUrl: string, logger: Logger): Promise<void> {
  const created = await prepareJobQueues(databaseUrl, [DELIVERY_QUEUE]);
  if (!created.includes(DELIVERY_QUEUE.name)) return;
  let adopted = 0;
  for await (const waiting of waitingDeliveryPages()) {
    await scheduleDeliveries(pool, waiting);
    adopted += waiting.length;
  }
  if (adopted) logger.info({ deliveries: adopted }, "waiting deliveries scheduled on the new delivery queue");
}
