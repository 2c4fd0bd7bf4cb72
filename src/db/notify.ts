import { prepared } from "./prepared.js";
import { pool } from "./prisma.js";

/**
 * Wake-up notifications, coalesced and sent after the fact. A NOTIFY inside a writing transaction takes PostgreSQL's
 * notification-queue lock until the commit is flushed to disk, so every notifying transaction waited for the one
 * before it: publishes, accepted webhooks and execution updates queued behind each other's WAL flushes. Sent on its
 * own (after the commit that made the work visible), a wake-up holds the lock only for a moment, and all the wake-ups
 * of one channel asked for within a couple of milliseconds go out as one.
 */
const COALESCE_MS = 2;
/** Notifications waiting for the next flush, in order; a wake-up (empty payload) is queued once per channel. */
const queued: { channel: string; payload: string }[] = [];
const wakeUps = new Set<string>();
let timer: NodeJS.Timeout | undefined;

/** Asks for a NOTIFY on `channel` soon. Call it after the commit of the work it announces. */
export function wakeSoon(channel: string): void {
  if (wakeUps.has(channel)) return;
  wakeUps.add(channel);
  enqueue(channel, "");
}

/**
 * Sends `payload` on `channel` with the next flush, after anything queued before it (subscription events between
 * processes): one query carries every notification of a couple of milliseconds, wake-ups included.
 */
export function notifySoon(channel: string, payload: string): void {
  enqueue(channel, payload);
}

function enqueue(channel: string, payload: string): void {
  queued.push({ channel, payload });
  if (!timer) timer = setTimeout(flush, COALESCE_MS);
}

function flush(): void {
  timer = undefined;
  const batch = queued.splice(0);
  wakeUps.clear();
  // A lost wake-up only costs latency: listeners also poll.
  void pool
    .query(
      prepared(`SELECT pg_notify(n.channel, n.payload) FROM unnest($1::text[], $2::text[]) AS n(channel, payload)`, [
        batch.map((item) => item.channel),
        batch.map((item) => item.payload),
      ]),
    )
    .catch(() => undefined);
}
