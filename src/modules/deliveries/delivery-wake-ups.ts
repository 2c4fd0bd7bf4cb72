import { createHash } from "node:crypto";
import type PgBoss from "pg-boss";
import { insertJobs, type JobConnection } from "../../jobs/kit/produce.js";
import type { QueueSpec } from "../../jobs/kit/queue.js";

/**
 * The Delivery rows are the one ledger of outbound work: a row's status and `dueAt` say whether it is due (PENDING,
 * due at `dueAt`) and who has it (SENDING, leased until `dueAt`). pg-boss only says *when to look*: for every second
 * in which a delivery falls due later (a retry, a deliverAt publish, a Retry-After), one wake-up job starts at the end
 * of that second, and the worker that fetches it tells every dispatcher to claim (dispatcher.ts). Deliveries due now
 * need no job: the publish's NOTIFY wakes the dispatchers once it commits.
 *
 * A wake-up carries no ids, so it can never disagree with the rows: a lost one (a crash before it ran, a rolled-back
 * write that stored it) costs at most the dispatcher's idle poll, and one for a cancelled delivery wakes a claim that
 * finds nothing. Before this, each delivery lived in a job (up to 100 ids) and in its row, reconciled in memory by the
 * dispatcher and by a sweep of pg-boss's job table; in the benchmark, that design ran fan-out at 1.31x a plain
 * pg-boss baseline, the table queue this returns to ran it faster (README, Performance).
 */
export const DELIVERY_WAKE_QUEUE: QueueSpec = {
  name: "delivery.wake",
  options: {
    // A wake-up's handler only sends a NOTIFY; one that fails is tried again a second later.
    expireInSeconds: 60,
    retryLimit: 5,
    retryDelay: 1,
    // A wake-up not fetched within an hour of its start (every worker down) is dropped by pg-boss's maintenance:
    // by then the dispatchers' start-up claim and idle poll have found its deliveries anyway.
    retentionMinutes: 60,
  },
};

/**
 * The queue earlier versions scheduled deliveries in (jobs naming up to 100 deliveries each). Deleted with its jobs
 * when the database is prepared: the rows they named are due by their own `dueAt`, so nothing is lost, and an older
 * process still running during a rolling upgrade has its job inserts skipped by pg-boss (no such queue) while its
 * rows are claimed by the new dispatchers like any others.
 */
export const RETIRED_DELIVERY_QUEUE = "delivery.send";

/**
 * One wake-up job per second in which one of `dueTimes` falls (those still ahead of this process's clock), with an
 * id derived from that second. Callers pass only later times (a deliverAt, a retry): a delivery due now is announced
 * by a NOTIFY, and a time a moment ahead gets a wake-up too, so a retry due in half a second is not left to the poll.
 */
export function wakeUpJobs(dueTimes: Iterable<Date>, now = Date.now()): PgBoss.JobInsert[] {
  const seconds = new Set<number>();
  for (const due of dueTimes) {
    const at = due.getTime();
    if (at > now) seconds.add(Math.ceil(at / 1000) * 1000);
  }
  // The derived id makes a second's wake-up one job however many writers ask for it (pg-boss inserts ON CONFLICT DO
  // NOTHING): a fan-out of retries that fall due together stores one row, not one per batch.
  return [...seconds].map((second) => ({
    name: DELIVERY_WAKE_QUEUE.name,
    id: wakeUpId(second),
    startAfter: new Date(second),
  }));
}

/**
 * Stores the wake-ups for deliveries due later at `dueTimes` on the caller's connection (in its transaction when it
 * has one).
 */
export async function scheduleWakeUps(connection: JobConnection, dueTimes: Iterable<Date>): Promise<void> {
  await insertJobs(connection, wakeUpJobs(dueTimes));
}

/** A name-based UUID (version 5 layout over SHA-1) for the wake-up of the second starting at `second` (ms). */
function wakeUpId(second: number): string {
  const bytes = createHash("sha1").update(`signalpost:delivery-wake:${second}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
