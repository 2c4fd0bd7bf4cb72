import { z } from "zod";
import { columnList, named } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";
import { type EventType, Prisma } from "../../generated/prisma/client.js";

/**
 * The event-type SQL that Prisma cannot say: a type with its version (the row's xmin, which the publish statement
 * compares), and the name checks of endpoint filters and emitEvent actions. Everything else about event types is
 * Prisma (event-types.service.ts).
 */

const EVENT_TYPE_COLUMNS = columnList(Prisma.EventTypeScalarFieldEnum);

/** The tenant's event type named `name` with its version, or undefined. */
export async function findVersionedEventType(
  tenantId: string,
  name: string,
): Promise<(EventType & { version: string }) | undefined> {
  const { rows } = await pool.query<Record<string, unknown>>(
    named(
      `SELECT ${EVENT_TYPE_COLUMNS}, xmin::text AS version FROM "EventType" WHERE "tenantId" = $tenantId AND name = $name`,
      { tenantId, name },
    ),
  );
  const row = rows[0];
  if (!row) return undefined;
  if (typeof row.id !== "string" || typeof row.version !== "string") throw new Error("unexpected EventType row");
  return row as unknown as EventType & { version: string };
}

const stateRow = z.object({ name: z.string(), archived: z.boolean() });

/** Which of `names` the tenant has as event types, and whether each is archived (missing names are absent). */
export async function eventTypeStates(tenantId: string, names: readonly string[]): Promise<Map<string, boolean>> {
  const { rows } = await pool.query(
    named(
      `SELECT name, "archivedAt" IS NOT NULL AS archived FROM "EventType"
       WHERE "tenantId" = $tenantId AND name = ANY($names::text[])`,
      { tenantId, names },
    ),
  );
  return new Map(rows.map((row) => stateRow.parse(row)).map((row) => [row.name, row.archived]));
}

const nameRow = z.object({ name: z.string() });

/** The names of the tenant's active event types, in order, at most `limit`. */
export async function activeEventTypeNames(tenantId: string, limit: number): Promise<string[]> {
  const { rows } = await pool.query(
    named(
      `SELECT name FROM "EventType" WHERE "tenantId" = $tenantId AND "archivedAt" IS NULL ORDER BY name LIMIT $limit`,
      { tenantId, limit },
    ),
  );
  return rows.map((row) => nameRow.parse(row).name);
}
