import { randomUUID } from "node:crypto";
import type { PoolClient } from "pg";
import { DELIVERIES_CHANNEL } from "../../db/listen.js";
import { wakeSoon } from "../../db/notify.js";
import { pool, prisma } from "../../db/prisma.js";
import { publishMany } from "../../db/pubsub.js";
import { withTransaction } from "../../db/transaction.js";
import { isDatabaseUnavailable } from "../../db/unavailable.js";
import type { Event, Prisma } from "../../generated/prisma/client.js";
import { ConflictError, findOrNotFound, ValidationError } from "../../lib/errors.js";
import { groupCommit } from "../../lib/group-commit.js";
import { currentRequestId } from "../../lib/request-context.js";
import { scheduleWakeUps } from "../deliveries/delivery-wake-ups.js";
import { eventTypeForPublish, type PublishableType } from "../event-types/event-types.service.js";
import {
  findEventIdByIdempotencyKey,
  findEventsByIdempotencyKeys,
  freeIdempotencyKeys,
  insertEventsAndFanOut,
  insertForwardedEvent,
} from "./events.store.js";

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
  type: PublishableType;
  payload: Prisma.InputJsonValue;
  /** The payload as JSON text, made once for the size check and written as it is. */
  json: string;
  idempotencyKey: string | null;
  deliverAt: Date | null;
  /** The publishing request's id, taken here, in its own context: the group commit writes it from another's. */
  requestId: string | null;
}

/** Validates one input: type known and not archived, payload within size and schema, key and schedule sane. */
async function checkInput(
  tenantId: string,
  input: PublishInput,
  field: (name: string) => string,
  now: number,
  freshType: boolean,
): Promise<CheckedInput> {
  const type = await eventTypeForPublish(tenantId, input.eventType, freshType).catch((error: unknown) => {
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
    type,
    payload: input.payload as Prisma.InputJsonValue,
    json,
    idempotencyKey: key,
    deliverAt,
    requestId: currentRequestId() ?? null,
  };
}

/** Inputs are checked against the event types this process remembers; the insert refuses if one has changed since. */
const TYPE_CHECK_ATTEMPTS = 3;

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
  for (let attempt = 1; ; attempt += 1) {
    // After a refusal, each type is read again (once): the payloads are checked against the schemas that now hold.
    const checked: CheckedInput[] = [];
    const reread = new Set<string>();
    for (const [index, input] of inputs.entries()) {
      const field = (name: string) => (batch ? `events.${index}.${name}` : name);
      const freshType = attempt > 1 && !reread.has(input.eventType);
      reread.add(input.eventType);
      checked.push(await checkInput(tenantId, input, field, now, freshType));
    }
    const results = await insertChecked(tenantId, checked, batch, now);
    if (results) {
      // Workers learn of the new deliveries once they are committed (and poll anyway).
      if (results.some((result) => result.deliveryCount > 0)) wakeSoon(DELIVERIES_CHANNEL);
      // For eventPublished subscribers (`signalpost listen`): ids only, sent with the wake-up in the same query.
      publishMany(
        "event:published",
        tenantId,
        results
          .filter((result) => !result.duplicate)
          .map((result) => ({ eventId: result.event.id, eventType: result.event.eventType })),
      );
      return results;
    }
    if (attempt === TYPE_CHECK_ATTEMPTS) {
      throw new ConflictError("the event type changed while this was being published; retry", "eventType");
    }
  }
}

/**
 * Inserts checked inputs, or returns undefined (having written nothing) when an event type changed since it was
 * read. Without idempotency keys the insert is one statement, atomic on its own; with keys, earlier events are
 * looked up and stale keys freed in the same transaction.
 */
async function insertChecked(
  tenantId: string,
  checked: CheckedInput[],
  batch: boolean,
  now: number,
): Promise<PublishedEvent[] | undefined> {
  const keys = [...new Set(checked.map((item) => item.idempotencyKey).filter((key): key is string => key !== null))];
  const [single] = checked;
  if (!batch && keys.length === 0 && single) {
    const published = await publishTogether({ tenantId, checked: single });
    return published ? [published] : undefined;
  }
  try {
    // One transaction: the events, their deliveries and the deliveries' pg-boss jobs commit (or not) together.
    return await withTransaction(pool, (client) => insertOnClient(client, tenantId, checked, keys, batch, now));
  } catch (error) {
    if (error instanceof TypesChanged) return undefined;
    throw error;
  }
}

/**
 * Single publishes without an idempotency key (the common `publishEvent` call) that arrive while one is being written
 * are written together by the next transaction: one statement per tenant for all of that tenant's publishes, one
 * insert of the wake-ups for any deliverAt, and one commit, so concurrent callers share the statement, the WAL flush
 * and the BEGIN/COMMIT round trips. (A statement per publish, as before, capped single publishes at about 700/s on
 * the 2-core bench machine: each waited for the one before it; `npm run bench -- --latency-only`.)
 */
const publishTogether = groupCommit(
  (items: { tenantId: string; checked: CheckedInput }[]): Promise<(PublishedEvent | undefined)[]> =>
    withTransaction(pool, async (client) => {
      const results: (PublishedEvent | undefined)[] = new Array(items.length);
      // Deliveries due now are announced by the NOTIFY after the commit; those of a deliverAt get a wake-up job for
      // that second, in this transaction (delivery-wake-ups.ts).
      const dueTimes: Date[] = [];
      const write = async (group: { index: number; checked: CheckedInput }[], tenantId: string) => {
        const fresh = group.map((entry) => ({ ...entry, data: entry.checked, id: randomUUID() }));
        const inserted = await insertAndFanOut(client, tenantId, fresh);
        if (!inserted) return false;
        for (const item of fresh) {
          const { event, deliveryIds } = inserted.get(item.id) as { event: Event; deliveryIds: string[] };
          results[item.index] = { event, deliveryCount: deliveryIds.length, duplicate: false };
          if (deliveryIds.length && event.deliverAt) dueTimes.push(event.deliverAt);
        }
        return true;
      };
      for (const [tenantId, group] of byTenantAndTypeVersion(items)) {
        // A changed event type inserts nothing: the group's publishes are written one by one, so that only those of
        // the changed type are answered undefined (for their callers to check again).
        if (await write(group, tenantId)) continue;
        for (const entry of group) await write([entry], tenantId);
      }
      await scheduleWakeUps(client, dueTimes);
      return results;
    }),
  200,
  // A statement that failed for one publish's own reason must not fail the others written with it; a database that
  // is away fails them all alike.
  (error) => !isDatabaseUnavailable(error),
);

/**
 * Groups publishes by tenant for one statement each, no larger than one full `publishEvents` batch (100 events, so
 * at most 100 x 256 KB of payloads: the statement the memory budget already allows for). The statement checks each event
 * type at one version, so two publishes that checked the same type at different versions (a schema changed between
 * them) go to separate groups.
 */
function byTenantAndTypeVersion(
  items: readonly { tenantId: string; checked: CheckedInput }[],
): [string, { index: number; checked: CheckedInput }[]][] {
  interface Group {
    tenantId: string;
    versions: Map<string, string>;
    entries: { index: number; checked: CheckedInput }[];
  }
  const groups: Group[] = [];
  for (const [index, { tenantId, checked }] of items.entries()) {
    const { name, version } = checked.type;
    const fits = (group: Group) =>
      group.tenantId === tenantId &&
      (group.versions.get(name) ?? version) === version &&
      group.entries.length < MAX_BATCH;
    let group = groups.find(fits);
    if (!group) {
      group = { tenantId, versions: new Map(), entries: [] };
      groups.push(group);
    }
    group.versions.set(name, version);
    group.entries.push({ index, checked });
  }
  return groups.map((group) => [group.tenantId, group.entries]);
}

/** Thrown inside the transaction when an event type changed since the inputs were checked: rolls it back. */
class TypesChanged extends Error {}

async function insertOnClient(
  client: PoolClient,
  tenantId: string,
  checked: CheckedInput[],
  keys: string[],
  batch: boolean,
  now: number,
): Promise<PublishedEvent[]> {
  const results: (PublishedEvent | undefined)[] = new Array(checked.length);
  const fresh: { index: number; data: CheckedInput; id: string }[] = [];
  const byKey = new Map<string, Event>();
  if (keys.length) {
    const previous = await findEventsByIdempotencyKeys(client, tenantId, keys);
    const stale = previous.filter((event) => now - event.createdAt.getTime() >= IDEMPOTENCY_WINDOW_MS);
    // A key older than the window is free again: the old event keeps its history but gives up the key.
    if (stale.length) {
      await freeIdempotencyKeys(
        client,
        stale.map((event) => event.id),
      );
    }
    for (const event of previous) if (!stale.includes(event)) byKey.set(event.idempotencyKey as string, event);
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
      fresh.push({ index, data, id: randomUUID() });
    }
  }
  if (fresh.length) {
    const inserted = await insertAndFanOut(client, tenantId, fresh);
    if (!inserted) throw new TypesChanged();
    if (inserted.size !== fresh.length) {
      // A concurrent publish with the same key committed first: let the caller retry and get that event.
      throw new ConflictError(
        "an event with this idempotencyKey is being published concurrently; retry",
        "idempotencyKey",
      );
    }
    const dueTimes: Date[] = [];
    for (const item of fresh) {
      const { event, deliveryIds } = inserted.get(item.id) as { event: Event; deliveryIds: string[] };
      results[item.index] = { event, deliveryCount: deliveryIds.length, duplicate: false };
      if (deliveryIds.length && event.deliverAt) dueTimes.push(event.deliverAt);
    }
    await scheduleWakeUps(client, dueTimes);
  }
  return results as PublishedEvent[];
}

/**
 * Inserts the fresh inputs and their deliveries in one statement (events.store.ts); undefined when a type changed.
 * The events carry the payloads the caller sent (the statement does not read them back).
 */
async function insertAndFanOut(
  client: PoolClient,
  tenantId: string,
  fresh: { data: CheckedInput; id: string }[],
): Promise<Map<string, { event: Event; deliveryIds: string[] }> | undefined> {
  const inserted = await insertEventsAndFanOut(
    client,
    tenantId,
    fresh.map((item) => ({
      id: item.id,
      eventType: item.data.type.name,
      payload: item.data.json,
      idempotencyKey: item.data.idempotencyKey,
      deliverAt: item.data.deliverAt,
      requestId: item.data.requestId,
    })),
    new Map(fresh.map((item) => [item.data.type.name, item.data.type.version])),
  );
  if (!inserted) return undefined;
  const payloads = new Map(fresh.map((item) => [item.id, item.data.payload as Prisma.JsonValue]));
  return new Map(
    [...inserted].map(([id, { event, deliveryIds }]) => [
      id,
      { event: { ...event, payload: payloads.get(id) ?? null }, deliveryIds },
    ]),
  );
}

/** The internal event type of forwarded requests (not in the tenant's registry; never fanned out). */
export const FORWARD_EVENT_TYPE = "signalpost.forward";

/**
 * An agent's forward action: one event carrying the original body (sent as is, not in the envelope) and the chosen
 * headers, and one delivery to the named endpoint, which the outbound pipeline signs and retries like any other. The
 * idempotency key makes a retried execution forward once.
 */
export async function forwardToEndpoint(input: {
  tenantId: string;
  endpointId: string;
  payload: unknown;
  rawBody: string;
  headers: Record<string, string>;
  idempotencyKey: string;
}): Promise<{ eventId: string; deliveryCount: number }> {
  const forwarded = await withTransaction(pool, async (client) => {
    const existing = await findEventIdByIdempotencyKey(client, input.tenantId, input.idempotencyKey);
    if (existing) return { eventId: existing, deliveryCount: 0 };
    // Due now: the NOTIFY below, after the commit, wakes the dispatchers (no wake-up job).
    const { eventId, deliveryIds } = await insertForwardedEvent(client, { ...input, eventType: FORWARD_EVENT_TYPE });
    return { eventId, deliveryCount: deliveryIds.length };
  });
  if (forwarded.deliveryCount > 0) wakeSoon(DELIVERIES_CHANNEL);
  return forwarded;
}

/** One of the tenant's events. @throws NotFoundError (field `id`) for a missing, malformed or foreign id alike. */
export async function findEvent(
  tenantId: string,
  id: string,
  client: Prisma.TransactionClient = prisma,
): Promise<Event> {
  return findOrNotFound("event", id, () => client.event.findFirst({ where: { id, tenantId } }));
}

/**
 * Cancels an event scheduled with deliverAt before its time comes. @throws NotFoundError, ConflictError when it was
 * not scheduled or has started going out.
 */
export async function cancelScheduledEvent(tenantId: string, id: string): Promise<Event> {
  return prisma.$transaction(async (tx) => {
    const event = await findEvent(tenantId, id, tx);
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
    // Their wake-up job stays: shared by everything due in that second, it finds these rows CANCELLED and sends
    // nothing of them.
    return tx.event.update({ where: { id }, data: { cancelledAt: new Date() } });
  });
}
