import type pg from "pg";
import { wakeSoon } from "../../db/notify.js";
import { prepared } from "../../db/prepared.js";
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

/**
 * The multi-row insert of console events as SQL whose parameters start at `$first`, with {@link consoleEventValues}
 * for them: for a statement that records other rows too (a data-modifying WITH), so that the events share its
 * transaction in a single round trip.
 */
export function consoleEventsInsertSql(first: number): string {
  const p = (offset: number) => `$${first + offset}`;
  return `INSERT INTO "ConsoleEvent" ("tenantId", kind, "endpointId", "deliveryId", "agentId", "executionId", "apiKeyId", data)
     SELECT * FROM unnest(${p(0)}::uuid[], ${p(1)}::"ConsoleEventKind"[], ${p(2)}::uuid[], ${p(3)}::uuid[],
       ${p(4)}::uuid[], ${p(5)}::uuid[], ${p(6)}::uuid[], ${p(7)}::jsonb[])`;
}

/** The eight column arrays {@link consoleEventsInsertSql} takes. */
export function consoleEventValues(events: readonly ConsoleEventInput[]): unknown[] {
  return [
    events.map((event) => event.tenantId),
    events.map((event) => event.kind),
    ...ID_COLUMNS.map((column) => events.map((event) => event[column] ?? null)),
    events.map((event) => JSON.stringify(event.data ?? {})),
  ];
}

/**
 * The multi-row insert (one statement for any number of events), for a transaction on a pg client: the hot paths
 * record their batches' events this way, and call wakeConsole() once committed.
 */
export async function insertConsoleEvents(
  client: pg.PoolClient | pg.Pool,
  events: readonly ConsoleEventInput[],
): Promise<void> {
  if (events.length === 0) return;
  await client.query(prepared(consoleEventsInsertSql(1), consoleEventValues(events)));
}

/**
 * Records console events. Pass the transaction of the change they describe, so both commit together (and the
 * wake-up goes out on that commit); without one they are written on their own.
 */
export async function recordConsoleEvents(
  events: readonly ConsoleEventInput[],
  tx?: Prisma.TransactionClient,
): Promise<void> {
  if (events.length === 0) return;
  if (!tx) {
    await insertConsoleEvents(pool, events);
    wakeConsole();
    return;
  }
  await tx.consoleEvent.createMany({
    data: events.map((event) => ({
      tenantId: event.tenantId,
      kind: event.kind,
      endpointId: event.endpointId ?? null,
      deliveryId: event.deliveryId ?? null,
      agentId: event.agentId ?? null,
      executionId: event.executionId ?? null,
      apiKeyId: event.apiKeyId ?? null,
      data: (event.data ?? {}) as Prisma.InputJsonObject,
    })),
  });
  await tx.$executeRaw`SELECT pg_notify(${CONSOLE_CHANNEL}, '')`;
}

/** Wakes every process's console feed (coalesced; call it after the commit that wrote the events). */
export function wakeConsole(): void {
  wakeSoon(CONSOLE_CHANNEL);
}

export function recordConsoleEvent(event: ConsoleEventInput, tx?: Prisma.TransactionClient): Promise<void> {
  return recordConsoleEvents([event], tx);
}
