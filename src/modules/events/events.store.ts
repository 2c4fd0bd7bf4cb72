import type pg from "pg";
import { z } from "zod";
import { columnList, named } from "../../db/prepared.js";
import { type Event, Prisma } from "../../generated/prisma/client.js";

/**
 * The events domain's SQL (publishing is a hot path: see src/db/prisma.ts for why it is SQL and not Prisma). Every
 * function takes the connection or transaction to run on; rows are checked where they enter (explicit mapping on the
 * publish path, which a per-row schema would slow).
 */

const EVENT_COLUMNS = columnList(Prisma.EventScalarFieldEnum);
/**
 * Every column but the payload, which a publish already holds: reading 100 payloads of 256 KB back from the insert
 * parsed the whole batch a second time (about as much heap again as the request itself).
 */
const { payload: _payload, ...EVENT_FIELDS_BUT_PAYLOAD } = Prisma.EventScalarFieldEnum;

/** An event row as pg returns it, checked cheaply: the columns the publish path relies on have their types. */
function eventRow(row: Record<string, unknown>): Event {
  if (typeof row.id !== "string" || typeof row.tenantId !== "string" || !(row.createdAt instanceof Date)) {
    throw new Error(`unexpected Event row: ${JSON.stringify(Object.keys(row))}`);
  }
  return row as unknown as Event;
}

/** The tenant's events holding any of `keys` as idempotency key. */
export async function findEventsByIdempotencyKeys(
  client: pg.ClientBase,
  tenantId: string,
  keys: readonly string[],
): Promise<Event[]> {
  const { rows } = await client.query(
    named(
      `SELECT ${EVENT_COLUMNS} FROM "Event" WHERE "tenantId" = $tenantId AND "idempotencyKey" = ANY($keys::text[])`,
      {
        tenantId,
        keys,
      },
    ),
  );
  return rows.map(eventRow);
}

/** Takes the idempotency key from events whose window has passed (the key is free again; the events stay). */
export async function freeIdempotencyKeys(client: pg.ClientBase, eventIds: readonly string[]): Promise<void> {
  await client.query(
    named(`UPDATE "Event" SET "idempotencyKey" = NULL WHERE id = ANY($ids::uuid[])`, { ids: eventIds }),
  );
}

/** One event to insert, its id chosen by the caller so that results map back to inputs. */
export interface NewEvent {
  id: string;
  eventType: string;
  /** The payload as JSON text. */
  payload: string;
  idempotencyKey: string | null;
  deliverAt: Date | null;
  /** The id of the request publishing it (lib/request-context.ts). */
  requestId: string | null;
}

const INSERT_AND_FAN_OUT = `WITH current AS (
       SELECT count(*) = cardinality($typeNames::text[]) AS ok
       FROM unnest($typeNames::text[], $typeVersions::text[]) AS v(name, version)
       JOIN "EventType" et ON et."tenantId" = $tenantId AND et.name = v.name AND et.xmin::text = v.version
         AND et."archivedAt" IS NULL
     ), ins AS (
       INSERT INTO "Event" (id, "tenantId", "eventType", payload, "idempotencyKey", "deliverAt", "requestId")
       SELECT x.id, $tenantId, x.type, x.payload, x.key, x.deliver_at, x.request_id
       FROM ROWS FROM (unnest($ids::uuid[]), unnest($eventTypes::text[]), jsonb_array_elements($payloads::jsonb),
           unnest($keys::text[]), unnest($deliverAts::timestamptz[]), unnest($requestIds::text[]))
         AS x(id, type, payload, key, deliver_at, request_id)
       WHERE (SELECT ok FROM current)
       ON CONFLICT ("tenantId", "idempotencyKey") DO NOTHING
       RETURNING ${columnList(EVENT_FIELDS_BUT_PAYLOAD)}
     ), fanned AS (
       INSERT INTO "Delivery" ("tenantId", "eventId", "endpointId", "eventType", "dueAt")
       SELECT ins."tenantId", ins.id, ep.id, ins."eventType", COALESCE(ins."deliverAt", ins."createdAt")
       FROM ins JOIN "Endpoint" ep ON ep."tenantId" = ins."tenantId" AND ep.enabled
         AND (cardinality(ep."eventTypes") = 0 OR ins."eventType" = ANY(ep."eventTypes"))
       RETURNING id, "eventId"
     )
     SELECT current.ok AS "typesCurrent", ${columnList(EVENT_FIELDS_BUT_PAYLOAD, "ins")},
       (SELECT array_agg(fanned.id) FROM fanned WHERE fanned."eventId" = ins.id) AS "deliveryIds"
     FROM current LEFT JOIN ins ON true`;

/**
 * One statement checks that every event type is still at the version (`types`: name -> xmin) the inputs were
 * validated against (and not archived), then inserts the events and every delivery of the batch (INSERT ... SELECT
 * over the subscribed, enabled endpoints). Returns the inserted events by id with their deliveries' ids (an event
 * whose key another transaction took is missing), or undefined, having inserted nothing, when a type changed. The
 * events come back without their payloads (`payload` is the caller's to fill in).
 */
export async function insertEventsAndFanOut(
  client: pg.ClientBase,
  tenantId: string,
  events: readonly NewEvent[],
  types: ReadonlyMap<string, string>,
): Promise<Map<string, { event: Omit<Event, "payload">; deliveryIds: string[] }> | undefined> {
  const { rows } = await client.query<Record<string, unknown>>(
    named(INSERT_AND_FAN_OUT, {
      tenantId,
      ids: events.map((event) => event.id),
      eventTypes: events.map((event) => event.eventType),
      // One JSON array of the payloads, not a text[] of them: pg writes an array parameter as an array literal,
      // escaping every quote of every payload, which took about 2 MB of heap per 256 KB payload (measured on a
      // full batch: 194 MB for the statement alone).
      payloads: `[${events.map((event) => event.payload).join(",")}]`,
      keys: events.map((event) => event.idempotencyKey),
      deliverAts: events.map((event) => event.deliverAt?.toISOString() ?? null),
      requestIds: events.map((event) => event.requestId),
      typeNames: [...types.keys()],
      typeVersions: [...types.values()],
    }),
  );
  if (rows[0]?.typesCurrent !== true) return undefined;
  return new Map(
    rows
      .filter((row) => row.id !== null)
      .map(({ deliveryIds, typesCurrent: _, ...event }) => [
        event.id as string,
        { event: eventRow(event), deliveryIds: (deliveryIds as string[] | null) ?? [] },
      ]),
  );
}

/** The id of the tenant's event holding `idempotencyKey`, if any. */
export async function findEventIdByIdempotencyKey(
  client: pg.ClientBase,
  tenantId: string,
  idempotencyKey: string,
): Promise<string | undefined> {
  const { rows } = await client.query(
    named(`SELECT id FROM "Event" WHERE "tenantId" = $tenantId AND "idempotencyKey" = $idempotencyKey`, {
      tenantId,
      idempotencyKey,
    }),
  );
  return rows.length ? z.object({ id: z.string() }).parse(rows[0]).id : undefined;
}

const forwardedRow = z.object({ id: z.string(), deliveryIds: z.array(z.string()).nullable() });

/**
 * Inserts a forwarded request as an event of `eventType` with its raw body and chosen headers, and its one delivery
 * to `endpointId` (none when that endpoint is disabled or not the tenant's).
 */
export async function insertForwardedEvent(
  client: pg.ClientBase,
  input: {
    tenantId: string;
    eventType: string;
    endpointId: string;
    payload: unknown;
    rawBody: string;
    headers: Record<string, string>;
    idempotencyKey: string;
  },
): Promise<{ eventId: string; deliveryIds: string[] }> {
  const { rows } = await client.query(
    named(
      `WITH ins AS (
         INSERT INTO "Event" ("tenantId", "eventType", payload, "rawBody", "extraHeaders", "idempotencyKey")
         VALUES ($tenantId, $eventType, $payload, $rawBody, $headers, $idempotencyKey)
         RETURNING id, "tenantId", "createdAt"
       ), fanned AS (
         INSERT INTO "Delivery" ("tenantId", "eventId", "endpointId", "eventType", "dueAt")
         SELECT ins."tenantId", ins.id, ep.id, $eventType, ins."createdAt" FROM ins
         JOIN "Endpoint" ep ON ep.id = $endpointId AND ep."tenantId" = ins."tenantId" AND ep.enabled
         RETURNING id
       )
       SELECT ins.id, (SELECT array_agg(fanned.id) FROM fanned) AS "deliveryIds" FROM ins`,
      {
        tenantId: input.tenantId,
        eventType: input.eventType,
        payload: JSON.stringify(input.payload),
        rawBody: input.rawBody,
        headers: JSON.stringify(input.headers),
        idempotencyKey: input.idempotencyKey,
        endpointId: input.endpointId,
      },
    ),
  );
  const row = forwardedRow.parse(rows[0]);
  return { eventId: row.id, deliveryIds: row.deliveryIds ?? [] };
}
