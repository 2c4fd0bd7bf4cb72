import { prepareJobQueues } from "../../jobs/kit/queue.js";
import { DELIVERY_WAKE_QUEUE, RETIRED_DELIVERY_QUEUE } from "./delivery-wake-ups.js";

/**
 * Creates pg-boss's schema and the delivery wake-up queue if they are missing (or updates the queue's settings),
 * wherever the database is migrated (start-up, `signalpost migrate`, the test template), and deletes the queue earlier
 * versions scheduled deliveries in, with its jobs: the rows they named are due by their own `dueAt` (see
 * {@link RETIRED_DELIVERY_QUEUE}), so an upgrade needs nothing else.
 */
export async function prepareDeliveryQueue(databaseUrl: string): Promise<void> {
  await prepareJobQueues(databaseUrl, [DELIVERY_WAKE_QUEUE], [RETIRED_DELIVERY_QUEUE]);
}
