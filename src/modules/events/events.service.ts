import { prisma } from "../../db/prisma.js";
import type { Event, Prisma } from "../../generated/prisma/client.js";
import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import { isUuid } from "../../lib/ids.js";
import { DELIVERIES_CHANNEL } from "../deliveries/wake-up.js";
import { eventTypeForPublish } from "../event-types/event-types.service.js";

export interface PublishInput {
  eventType: string;
  payload: unknown;
  idempotencyKey?: string | null;
  deliverAt?: Date | null;
}

export interface PublishedEvent {
  event: Event;
  /** Deliveries this call created: 0 for an idempotent repeat, or when no endpoint subscribes. */
  deliveryCount: number;
  /** True when the idempotency key matched an event from the last 24 hours, which is returned instead. */
  duplicate: boolean;
}

export const MAX_BATCH = 100;
const MAX_PAYLOAD_BYTES = 256 * 1024;
const MAX_SCHEDULE_AHEAD_MS = 30 * 24 * 3600 * 1000;
const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

interface CheckedInput {
  eventType: string;
  payload: Prisma.InputJsonValue;
  idempotencyKey: string | null;
  deliverAt: Date | null;
}

/** Validates one input: type known and not archived, payload within size and schema, key and schedule sane. */
async function checkInput(
  tenantId: string,
  input: PublishInput,
  field: (name: string) => string,
  now: number,
): Promise<CheckedInput> {
  const type = await eventTypeForPublish(tenantId, input.eventType).catch((error: unknown) => {
    if (error instanceof ValidationError) throw new ValidationError(error.message, field("eventType"));
    throw error;
  });
  const json = JSON.stringify(input.payload);
  if (json === undefined) throw new ValidationError("payload must be a JSON value", field("payload"));
  if (Buffer.byteLength(json) > MAX_PAYLOAD_BYTES) {
    throw new ValidationError(`payload is larger than ${MAX_PAYLOAD_BYTES / 1024} KB`, field("payload"));
  }
  try {
    type.validate(input.payload);
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError(error.message, field("payload"));
    throw error;
  }
  const key = input.idempotencyKey?.trim() || null;
  if (key && key.length > 200)
    throw new ValidationError("idempotencyKey must be at most 200 characters", field("idempotencyKey"));
  const deliverAt = input.deliverAt && input.deliverAt.getTime() > now ? input.deliverAt : null;
  if (deliverAt && deliverAt.getTime() - now > MAX_SCHEDULE_AHEAD_MS) {
    throw new ValidationError("deliverAt must be within 30 days", field("deliverAt"));
  }
  return {
    eventType: input.eventType,
    payload: input.payload as Prisma.InputJsonValue,
    idempotencyKey: key,
    deliverAt,
  };
}

/**
 * Publishes up to 100 events in one transaction: the events, one delivery per matching enabled endpoint (a single
 * INSERT ... SELECT for the whole batch), and a NOTIFY that wakes idle workers when the transaction commits. There is
 * never an event without its deliveries or a delivery without its event. An idempotency key seen in the last 24
 * hours returns the first event and creates nothing.
 * @throws ValidationError naming the offending input (`events.3.payload` in a batch).
 */
export async function publishEvents(
  tenantId: string,
  inputs: readonly PublishInput[],
  batch: boolean,
): Promise<PublishedEvent[]> {
  if (inputs.length === 0) throw new ValidationError("publish at least one event", "events");
  if (inputs.length > MAX_BATCH) throw new ValidationError(`at most ${MAX_BATCH} events per call`, "events");
  const now = Date.now();
  const checked: CheckedInput[] = [];
  for (const [index, input] of inputs.entries()) {
    checked.push(await checkInput(tenantId, input, (name) => (batch ? `events.${index}.${name}` : name), now));
  }

  return prisma.$transaction(async (tx) => {
    const results: (PublishedEvent | undefined)[] = new Array(checked.length);
    const fresh: { index: number; data: CheckedInput }[] = [];
    const keys = [...new Set(checked.map((item) => item.idempotencyKey).filter((key): key is string => key !== null))];
    const previous = keys.length ? await tx.event.findMany({ where: { tenantId, idempotencyKey: { in: keys } } }) : [];
    const byKey = new Map(previous.map((event) => [event.idempotencyKey as string, event]));
    const stale = previous.filter((event) => now - event.createdAt.getTime() >= IDEMPOTENCY_WINDOW_MS);
    if (stale.length) {
      // A key older than the window is free again: the old event keeps its history but gives up the key.
      await tx.event.updateMany({
        where: { id: { in: stale.map((event) => event.id) } },
        data: { idempotencyKey: null },
      });
      for (const event of stale) byKey.delete(event.idempotencyKey as string);
    }
    const claimedKeys = new Set<string>();
    for (const [index, data] of checked.entries()) {
      const existing = data.idempotencyKey ? byKey.get(data.idempotencyKey) : undefined;
      if (existing) results[index] = { event: existing, deliveryCount: 0, duplicate: true };
      else if (data.idempotencyKey && claimedKeys.has(data.idempotencyKey)) {
        throw new ValidationError(
          "the same idempotencyKey appears twice in this batch",
          batch ? `events.${index}.idempotencyKey` : "idempotencyKey",
        );
      } else {
        if (data.idempotencyKey) claimedKeys.add(data.idempotencyKey);
        fresh.push({ index, data });
      }
    }
    if (fresh.length) {
      const events = await tx.event.createManyAndReturn({
        data: fresh.map(({ data }) => ({ tenantId, ...data })),
        skipDuplicates: true,
      });
      if (events.length !== fresh.length) {
        // A concurrent publish with the same key committed first: let the caller retry and get that event.
        throw new ConflictError(
          "an event with this idempotencyKey is being published concurrently; retry",
          "idempotencyKey",
        );
      }
      const counts = await fanOut(tx, tenantId, events);
      for (const [position, event] of events.entries()) {
        const slot = fresh[position] as { index: number };
        results[slot.index] = { event, deliveryCount: counts.get(event.id) ?? 0, duplicate: false };
      }
    }
    return results as PublishedEvent[];
  });
}

/** One INSERT ... SELECT creates every delivery of the batch; NOTIFY is transactional, so it fires on commit. */
async function fanOut(tx: Prisma.TransactionClient, tenantId: string, events: Event[]): Promise<Map<string, number>> {
  const rows = await tx.$queryRaw<{ eventId: string; count: bigint }[]>`
    WITH inserted AS (
      INSERT INTO "Delivery" ("tenantId", "eventId", "endpointId", "eventType", "dueAt")
      SELECT ${tenantId}::uuid, e.id, ep.id, e.type, e.due
      FROM unnest(${events.map((event) => event.id)}::uuid[], ${events.map((event) => event.eventType)}::text[],
                  ${events.map((event) => (event.deliverAt ?? event.createdAt).toISOString())}::timestamptz[]) AS e(id, type, due)
      JOIN "Endpoint" ep ON ep."tenantId" = ${tenantId}::uuid AND ep.enabled
        AND (cardinality(ep."eventTypes") = 0 OR e.type = ANY(ep."eventTypes"))
      RETURNING "eventId"
    )
    SELECT "eventId", count(*) AS count FROM inserted GROUP BY "eventId"`;
  if (rows.length) await tx.$executeRaw`SELECT pg_notify(${DELIVERIES_CHANNEL}, '')`;
  return new Map(rows.map((row) => [row.eventId, Number(row.count)]));
}

/**
 * Cancels an event scheduled with deliverAt before its time comes. @throws NotFoundError, ConflictError when it was
 * not scheduled or has started going out.
 */
export async function cancelScheduledEvent(tenantId: string, id: string): Promise<Event> {
  return prisma.$transaction(async (tx) => {
    const event = isUuid(id) ? await tx.event.findFirst({ where: { id, tenantId } }) : null;
    if (!event) throw new NotFoundError("No event with that id", "id");
    if (event.cancelledAt) return event;
    if (!event.deliverAt || event.deliverAt.getTime() <= Date.now()) {
      throw new ConflictError("only events scheduled for later can be cancelled", "id");
    }
    const started = await tx.delivery.count({ where: { eventId: id, attemptCount: { gt: 0 } } });
    if (started > 0) throw new ConflictError("deliveries of this event have already been attempted", "id");
    await tx.delivery.updateMany({
      where: { eventId: id, status: "PENDING" },
      data: { status: "CANCELLED", completedAt: new Date(), failureReason: "cancelled" },
    });
    return tx.event.update({ where: { id }, data: { cancelledAt: new Date() } });
  });
}
