import { pool } from "./prisma.js";

/**
 * Wake-up notifications, coalesced and sent after the fact. A NOTIFY inside a writing transaction takes PostgreSQL's
 * notification-queue lock until the commit is flushed to disk, so every notifying transaction waited for the one
 * before it: publishes, accepted webhooks and execution updates queued behind each other's WAL flushes. Sent on its
 * own (after the commit that made the work visible), a wake-up holds the lock only for a moment, and all the wake-ups
 * of one channel asked for within a couple of milliseconds go out as one.
 */
const COALESCE_MS = 2;
const pending = new Set<string>();
let timer: NodeJS.Timeout | undefined;

/** Asks for a NOTIFY on `channel` soon. Call it after the commit of the work it announces. */
export function wakeSoon(channel: string): void {
  pending.add(channel);
  if (!timer) timer = setTimeout(flush, COALESCE_MS);
}

function flush(): void {
  timer = undefined;
  const channels = [...pending];
  pending.clear();
  // A lost wake-up only costs latency: listeners also poll.
  void pool
    .query(`SELECT pg_notify(channel, '') FROM unnest($1::text[]) AS channel`, [channels])
    .catch(() => undefined);
}
