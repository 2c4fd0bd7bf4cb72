import { named } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";
import { CONSOLE_COLUMNS, type ConsoleEventRow, type Cursor } from "./console-events.js";

/**
 * The console feed's reads, in (transaction id, row id) order with the visibility horizon (see Cursor): SQL because
 * Prisma has no pg_current_snapshot() and no row-value comparison. The writer is console-events.ts
 * (insertConsoleEvents and its SQL fragment). Rows come from CONSOLE_COLUMNS, which casts every bigint to text.
 */

/** The horizon: transactions below it have all committed or aborted, so rows below it can no longer appear. */
const HORIZON = `WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)`;

/** The position of the newest event below the horizon, or undefined when there is none. */
export async function newestSettledPosition(): Promise<Cursor | undefined> {
  const { rows } = await pool.query<{ txid: string; id: string }>(
    named(
      `${HORIZON}
       SELECT txid::text AS txid, id::text AS id FROM "ConsoleEvent", h
       WHERE txid < h.xmin ORDER BY "ConsoleEvent".txid DESC, "ConsoleEvent".id DESC LIMIT 1`,
      {},
    ),
  );
  const row = rows[0];
  return row ? { txid: String(row.txid), id: String(row.id) } : undefined;
}

/** An event of every tenant with the horizon at the time of reading. */
export type TailRow = ConsoleEventRow & { horizon: string };

/** Up to `limit` events (every tenant's) after `after`, each with the horizon as read. */
export async function eventsAfter(after: Cursor, limit: number): Promise<TailRow[]> {
  const { rows } = await pool.query<TailRow>(
    named(
      `${HORIZON}
       SELECT ${CONSOLE_COLUMNS}, h.xmin::text AS horizon FROM "ConsoleEvent", h
       WHERE (txid, id) > ($txid::bigint, $id::bigint) ORDER BY "ConsoleEvent".txid, "ConsoleEvent".id LIMIT $limit`,
      { txid: after.txid, id: after.id, limit },
    ),
  );
  return rows;
}

/** The tenant's last `last` events at or before `upTo`, oldest first. */
export async function tenantEventsUpTo(tenantId: string, upTo: Cursor, last: number): Promise<ConsoleEventRow[]> {
  const { rows } = await pool.query<ConsoleEventRow>(
    named(
      `SELECT ${CONSOLE_COLUMNS} FROM "ConsoleEvent"
       WHERE "tenantId" = $tenantId::uuid AND (txid, id) <= ($txid::bigint, $id::bigint)
       ORDER BY "ConsoleEvent".txid DESC, "ConsoleEvent".id DESC LIMIT $last`,
      { tenantId, txid: upTo.txid, id: upTo.id, last },
    ),
  );
  return rows.reverse();
}

/** Up to `limit` of the tenant's events in (after, upTo], oldest first. */
export async function tenantEventsBetween(
  tenantId: string,
  after: Cursor,
  upTo: Cursor,
  limit: number,
): Promise<ConsoleEventRow[]> {
  const { rows } = await pool.query<ConsoleEventRow>(
    named(
      `SELECT ${CONSOLE_COLUMNS} FROM "ConsoleEvent"
       WHERE "tenantId" = $tenantId::uuid AND (txid, id) > ($afterTxid::bigint, $afterId::bigint)
         AND (txid, id) <= ($upToTxid::bigint, $upToId::bigint)
       ORDER BY "ConsoleEvent".txid, "ConsoleEvent".id LIMIT $limit`,
      { tenantId, afterTxid: after.txid, afterId: after.id, upToTxid: upTo.txid, upToId: upTo.id, limit },
    ),
  );
  return rows;
}
