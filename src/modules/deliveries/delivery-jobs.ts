import { createHash } from "node:crypto";
import type PgBoss from "pg-boss";
import { z } from "zod";
import { cancelJobs, insertJobs, type JobConnection } from "../../jobs/kit/produce.js";
import type { QueueSpec } from "../../jobs/kit/queue.js";

/**
 * pg-boss schedules outbound work: a job names up to {@link DELIVERIES_PER_JOB} deliveries that fall due together
 * (a publish's, or the retries of a recorded batch), and starts after their due time. The Delivery rows stay the
 * record the API reads and the state machine stays ours: a worker that fetches a job claims the job's deliveries with
 * a lease (delivery-store.ts) and completes the job once their attempts are recorded.
 *
 * Batches keep pg-boss's per-job cost and its fetch (which sorts a queue's waiting jobs) small: 200,000 waiting
 * deliveries are 2,000 jobs.
 */
export const DELIVERY_QUEUE: QueueSpec = {
  name: "delivery.send",
  options: {
    // A job outlives a worker that dies holding it: after expireInSeconds it is retried (and its deliveries, whose
    // leases ran out by then, sent again with the same webhook-id). A job still being worked when it expires is
    // harmless: its second run finds the deliveries leased or finished and only schedules what still waits.
    expireInSeconds: 30,
    // Retries are for a worker that died or a database that failed mid-job, with backoff (1 s doubling, capped by
    // pg-boss at 2^16 s); the deliveries' own retries are new jobs.
    retryLimit: 50,
    retryDelay: 1,
    retryBackoff: true,
    // Not only how long finished jobs are kept: pg-boss's maintenance also deletes a job still WAITING once its
    // start time plus this has passed (its keep_until). So it must outlast any outage of the workers: 30 days.
    retentionMinutes: 30 * 24 * 60,
  },
};

/** How far ahead of this process's clock a due time may be and still count as due now. */
const CLOCK_SKEW_MS = 1_000;

/** Deliveries per job: large enough that pg-boss's per-job work is a small share, small enough to spread over workers. */
export const DELIVERIES_PER_JOB = 100;

// Ids are checked here: one malformed id would make every claim of the held jobs fail (the claim casts to uuid[]).
export const deliveryJobData = z.object({ deliveryIds: z.array(z.guid()).min(1).max(DELIVERIES_PER_JOB) });
export type DeliveryJobData = z.infer<typeof deliveryJobData>;

/** A delivery waiting to be sent: its id, when it falls due, and the scheduled event it belongs to, if any. */
export interface WaitingDelivery {
  id: string;
  dueAt: Date;
  /** Set for an event published with deliverAt: its jobs get ids derived from it, so cancelling can find them. */
  scheduledEventId?: string;
}

/**
 * The jobs for `waiting`: deliveries due now share jobs; later ones are grouped by the second they fall due in (the
 * job starts at the end of that second, so each is due when it runs); a scheduled event's deliveries get jobs of their
 * own with ids derived from the event (see {@link scheduledEventJobIds}).
 */
export function deliveryJobs(
  waiting: readonly WaitingDelivery[],
  now = Date.now(),
): PgBoss.JobInsert<DeliveryJobData>[] {
  const groups = new Map<string, { startAfter: number; eventId?: string; ids: string[] }>();
  for (const delivery of waiting) {
    const due = delivery.dueAt.getTime();
    // Due within a second counts as due now: a publish's due time is the database's clock, `now` this process's, and
    // a database clock a little ahead must not hold a publish back to the next second. A claim that comes too early
    // only misses and schedules the delivery again (dispatcher.ts).
    const startAfter = due <= now + CLOCK_SKEW_MS ? 0 : Math.ceil(due / 1000) * 1000;
    const key = `${delivery.scheduledEventId ?? ""}@${startAfter}`;
    const group = groups.get(key) ?? { startAfter, eventId: delivery.scheduledEventId, ids: [] };
    group.ids.push(delivery.id);
    groups.set(key, group);
  }
  const jobs: PgBoss.JobInsert<DeliveryJobData>[] = [];
  for (const group of groups.values()) {
    for (let start = 0, chunk = 0; start < group.ids.length; start += DELIVERIES_PER_JOB, chunk += 1) {
      jobs.push({
        name: DELIVERY_QUEUE.name,
        data: { deliveryIds: group.ids.slice(start, start + DELIVERIES_PER_JOB) },
        ...(group.startAfter ? { startAfter: new Date(group.startAfter) } : {}),
        ...(group.eventId ? { id: scheduledJobId(group.eventId, chunk) } : {}),
      });
    }
  }
  return jobs;
}

/** Schedules `waiting` on the caller's connection, in its transaction: the deliveries and their jobs commit together. */
export async function scheduleDeliveries(
  connection: JobConnection,
  waiting: readonly WaitingDelivery[],
): Promise<void> {
  await insertJobs(connection, deliveryJobs(waiting));
}

/** The ids of the jobs of a scheduled event with `deliveryCount` deliveries (one job per 100). */
export function scheduledEventJobIds(eventId: string, deliveryCount: number): string[] {
  const chunks = Math.ceil(deliveryCount / DELIVERIES_PER_JOB);
  return Array.from({ length: chunks }, (_, chunk) => scheduledJobId(eventId, chunk));
}

/** Cancels a scheduled event's jobs that have not started, in the caller's transaction. */
export async function cancelScheduledEventJobs(
  connection: JobConnection,
  eventId: string,
  deliveryCount: number,
): Promise<void> {
  await cancelJobs(connection, DELIVERY_QUEUE.name, scheduledEventJobIds(eventId, deliveryCount));
}

/** A name-based UUID (version 5 layout over SHA-1) for chunk `chunk` of a scheduled event's jobs. */
function scheduledJobId(eventId: string, chunk: number): string {
  const bytes = createHash("sha1").update(`signalpost:scheduled-event:${eventId}:${chunk}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
