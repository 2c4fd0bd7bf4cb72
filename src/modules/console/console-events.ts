import type pg from "pg";
import { wakeSoon } from "../../db/notify.js";
import { named } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";
import type { ConsoleEventKind, Prisma } from "../../generated/prisma/client.js";
import { ValidationError } from "../../lib/errors.js";

/** NOTIFY channel that wakes each process's console feed when events are written (sent on commit). */
export const CONSOLE_CHANNEL = "signalpost_console";

/** What a producer says happened; the row's id, transaction id and time are the database's. */
export interface ConsoleEventInput {
  tenantId: string;
  kind: ConsoleEventKind;
  endpointId?: string | null;
  deliveryId?: string | null;
  agentId?: string | null;
  executionId?: string | null;
  apiKeyId?: string | null;
  data?: Record<string, unknown>;
}

/** A stored event as the feed reads it. */
export interface ConsoleEventRow {
  id: string;
  txid: string;
  tenantId: string;
  kind: ConsoleEventKind;
  endpointId: string | null;
  deliveryId: string | null;
  agentId: string | null;
  executionId: string | null;
  apiKeyId: string | null;
  data: Record<string, unknown>;
  createdAt: Date;
}

/**
 * A position in the feed. Events are ordered by (writing transaction id, row id): ids alone can commit out of order
 * (a transaction holding id 5 may commit after the one holding id 6), transaction ids below the oldest running
 * transaction cannot gain rows any more. Both are 64-bit, kept as decimal strings.
 */
export interface Cursor {
  txid: string;
  id: string;
}

export const ZERO_CURSOR: Cursor = { txid: "0", id: "0" };

/** The opaque cursor clients hold: `<txid>.<id>`. */
export function encodeCursor(cursor: Cursor): string {
  return `${cursor.txid}.${cursor.id}`;
}

/** @throws ValidationError on `field` for anything that is not a cursor this server gave out. */
export function decodeCursor(value: string, field = "after"): Cursor {
  const match = /^(\d{1,19})\.(\d{1,19})$/.exec(value.trim());
  if (!match) throw new ValidationError("not a console cursor (use the cursor of an event you received)", field);
  return { txid: BigInt(match[1] as string).toString(), id: BigInt(match[2] as string).toString() };
}

/** (txid, id) order. */
export function compareCursors(a: Cursor, b: Cursor): number {
  const byTxid = BigInt(a.txid) - BigInt(b.txid);
  if (byTxid !== 0n) return byTxid < 0n ? -1 : 1;
  const byId = BigInt(a.id) - BigInt(b.id);
  return byId === 0n ? 0 : byId < 0n ? -1 : 1;
}

export function cursorOf(row: Pick<ConsoleEventRow, "txid" | "id">): Cursor {
  return { txid: row.txid, id: row.id };
}

/**
 * The columns every reader selects (ids as text: JavaScript numbers cannot hold a bigint). The aliases shadow the
 * bigint columns in ORDER BY, which would then sort as text ("1000" before "999"): order by the table's columns.
 */
export const CONSOLE_COLUMNS = `id::text AS id, txid::text AS txid, "tenantId", kind::text AS kind, "endpointId",
  "deliveryId", "agentId", "executionId", "apiKeyId", data, "createdAt"`;

type Column = keyof Omit<ConsoleEventInput, "data">;
const ID_COLUMNS: Column[] = ["endpointId", "deliveryId", "agentId", "executionId", "apiKeyId"];

/** The rows {@link consoleEventParams} describes, as a row source for {@link consoleEventsInsertSql}. */
export const CONSOLE_EVENT_PARAMETER_ROWS = `SELECT * FROM unnest($consoleTenantId::uuid[], $consoleKind::"ConsoleEventKind"[],
       $consoleEndpointId::uuid[], $consoleDeliveryId::uuid[], $consoleAgentId::uuid[], $consoleExecutionId::uuid[],
       $consoleApiKeyId::uuid[], $consoleData::jsonb[])`;

/**
 * The one INSERT of console events, as SQL with named parameters (src/db/prepared.ts `named`). By default its rows
 * are the parameters {@link consoleEventParams} gives; a statement that derives the events from rows it changes (a
 * data-modifying WITH) passes a SELECT of the eight columns in this order instead: tenantId, kind, endpointId,
 * deliveryId, agentId, executionId, apiKeyId, data. Either way the events share the statement's transaction in a
 * single round trip; the caller calls wakeConsole() once committed.
 */
export function consoleEventsInsertSql(rows: string = CONSOLE_EVENT_PARAMETER_ROWS): string {
  return `INSERT INTO "ConsoleEvent" ("tenantId", kind, "endpointId", "deliveryId", "agentId", "executionId", "apiKeyId", data)
     ${rows}`;
}

/** The named parameters of {@link CONSOLE_EVENT_PARAMETER_ROWS}: one array per column. */
export function consoleEventParams(events: readonly ConsoleEventInput[]): Record<string, unknown[]> {
  const params: Record<string, unknown[]> = {
    consoleTenantId: events.map((event) => event.tenantId),
    consoleKind: events.map((event) => event.kind),
    consoleData: events.map((event) => JSON.stringify(event.data ?? {})),
  };
  for (const column of ID_COLUMNS) {
    params[`console${column[0]?.toUpperCase()}${column.slice(1)}`] = events.map((event) => event[column] ?? null);
  }
  return params;
}

const INSERT_EVENTS = consoleEventsInsertSql();
/** The same insert, announcing itself on commit: for a Prisma transaction, whose commit the writer does not see. */
const INSERT_EVENTS_AND_NOTIFY = `WITH written AS (${INSERT_EVENTS} RETURNING 1)
  SELECT pg_notify($consoleChannel, '') FROM (SELECT count(*) FROM written) AS done`;

/**
 * Writes console events: the one writer every producer uses (directly, or through the SQL fragment above inside a
 * bigger statement on the hot paths). On a pg client or pool (one statement for any number of events) the caller
 * calls wakeConsole() once committed; in a Prisma transaction the wake-up is a NOTIFY sent by that commit, in the
 * same statement.
 */
export async function insertConsoleEvents(
  db: pg.ClientBase | pg.Pool | Prisma.TransactionClient,
  events: readonly ConsoleEventInput[],
): Promise<void> {
  if (events.length === 0) return;
  if ("$executeRawUnsafe" in db) {
    const query = named(INSERT_EVENTS_AND_NOTIFY, { ...consoleEventParams(events), consoleChannel: CONSOLE_CHANNEL });
    await db.$executeRawUnsafe(query.text, ...(query.values ?? []));
    return;
  }
  await db.query(named(INSERT_EVENTS, consoleEventParams(events)));
}

/**
 * Records console events. Pass the transaction of the change they describe, so both commit together (and the
 * wake-up goes out on that commit); without one they are written on their own.
 */
export async function recordConsoleEvents(
  events: readonly ConsoleEventInput[],
  tx?: Prisma.TransactionClient,
): Promise<void> {
  await insertConsoleEvents(tx ?? pool, events);
  if (!tx && events.length) wakeConsole();
}

/** Wakes every process's console feed (coalesced; call it after the commit that wrote the events). */
export function wakeConsole(): void {
  wakeSoon(CONSOLE_CHANNEL);
}

export function recordConsoleEvent(event: ConsoleEventInput, tx?: Prisma.TransactionClient): Promise<void> {
  return recordConsoleEvents([event], tx);
}
