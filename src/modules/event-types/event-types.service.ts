import { LRUCache } from "lru-cache";
import { prisma } from "../../db/prisma.js";
import { type EventType, Prisma } from "../../generated/prisma/client.js";
import { ConflictError, findOrNotFound, ValidationError } from "../../lib/errors.js";
import { cachedSchema, compileSchema, validateAgainst } from "../../lib/json-schema.js";
import { recordAudit } from "../audit/audit.service.js";
import type { RequestOrigin } from "../identity/viewer.js";
import { findVersionedEventType } from "./event-types.store.js";

const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

/** The changeable fields of an event type; those left undefined are not touched. */
export interface EventTypeFields {
  description?: string | null;
  /** A JSON Schema (draft 2020-12); null removes it. */
  schema?: unknown;
}

function checkFields(fields: EventTypeFields) {
  const data: { description?: string | null; schema?: Prisma.InputJsonValue | typeof Prisma.DbNull } = {};
  if (fields.description !== undefined) {
    if (fields.description && fields.description.length > 1_000) {
      throw new ValidationError("description must be at most 1000 characters", "description");
    }
    data.description = fields.description || null;
  }
  if (fields.schema !== undefined) {
    // Prisma's DbNull sentinel stores SQL NULL in a Json? column.
    if (fields.schema === null) data.schema = Prisma.DbNull;
    else {
      compileSchema(fields.schema);
      data.schema = fields.schema as Prisma.InputJsonValue;
    }
  }
  return data;
}

/** The tenant's event type by id. @throws NotFoundError (field `id`) for a missing, foreign or malformed id. */
export async function findEventType(
  tenantId: string,
  id: string,
  client: Prisma.TransactionClient = prisma,
  query: { include?: Prisma.EventTypeInclude; select?: Prisma.EventTypeSelect } = {},
): Promise<EventType> {
  return findOrNotFound("event type", id, () => client.eventType.findFirst({ ...query, where: { id, tenantId } }));
}

/** @throws ValidationError (name, description, schema), ConflictError when the name exists in the tenant. */
export async function createEventType(
  tenantId: string,
  input: EventTypeFields & { name: string },
  origin: RequestOrigin,
): Promise<EventType> {
  const name = input.name.trim();
  if (!NAME.test(name)) throw new ValidationError("a name is 1-100 of A-Z a-z 0-9 _ . : - (e.g. invoice.paid)", "name");
  const data = checkFields(input);
  try {
    return await prisma.$transaction(async (tx) => {
      const eventType = await tx.eventType.create({ data: { tenantId, name, ...data } });
      await recordAudit(
        {
          tenantId,
          ...origin,
          action: "event_type.created",
          target: { type: "EventType", id: eventType.id },
          metadata: { name },
        },
        tx,
      );
      return eventType;
    });
  } catch (error) {
    if ((error as { code?: string }).code === "P2002")
      throw new ConflictError(`an event type named "${name}" already exists`, "name");
    throw error;
  }
}

/** Changes description and/or schema. @throws ValidationError, NotFoundError. */
export async function updateEventType(
  tenantId: string,
  id: string,
  input: EventTypeFields,
  origin: RequestOrigin,
): Promise<EventType> {
  const data = checkFields(input);
  return prisma.$transaction(async (tx) => {
    await findEventType(tenantId, id, tx);
    const eventType = await tx.eventType.update({ where: { id }, data });
    await recordAudit(
      {
        tenantId,
        ...origin,
        action: "event_type.updated",
        target: { type: "EventType", id },
        metadata: { fields: Object.keys(data) },
      },
      tx,
    );
    forgetPublishable(eventType);
    return eventType;
  });
}

/** Archived types can no longer be published; existing events and deliveries are untouched. Idempotent. */
export async function archiveEventType(tenantId: string, id: string, origin: RequestOrigin): Promise<EventType> {
  return prisma.$transaction(async (tx) => {
    const existing = await findEventType(tenantId, id, tx);
    if (existing.archivedAt) return existing;
    const eventType = await tx.eventType.update({ where: { id }, data: { archivedAt: new Date() } });
    await recordAudit({ tenantId, ...origin, action: "event_type.archived", target: { type: "EventType", id } }, tx);
    forgetPublishable(eventType);
    return eventType;
  });
}

/** A type as the publishing side knows it: `version` is the row's xmin, which every update of the row changes. */
export interface PublishableType {
  name: string;
  version: string;
  validate(payload: unknown): void;
}

/** Publishable types by `tenantId:name`; the least recently published go first past 1,000. */
const publishable = new LRUCache<string, PublishableType>({ max: 1_000 });

/** This process changed the type: it need not wait for an insert to be refused to learn so. */
function forgetPublishable(eventType: { tenantId: string; name: string }): void {
  publishable.delete(`${eventType.tenantId}:${eventType.name}`);
}

/**
 * The publishing side: the tenant's type by name, with its compiled schema. Publishing is hot, so a type that was
 * publishable is remembered in this process; the insert then checks each remembered `version` in the same statement
 * (see publishEvents) and, when one changed, the publisher asks again with `fresh`. Nothing is published against a
 * stale schema or an archived type, and a steady stream costs no lookup per event.
 * @throws ValidationError on `eventType` for an unknown or archived type.
 */
export async function eventTypeForPublish(tenantId: string, name: string, fresh = false): Promise<PublishableType> {
  const key = `${tenantId}:${name}`;
  const known = fresh ? undefined : publishable.get(key);
  if (known) return known;
  publishable.delete(key);
  const eventType = await findVersionedEventType(tenantId, name);
  if (!eventType)
    throw new ValidationError(`unknown event type "${name}": create it first (createEventType)`, "eventType");
  if (eventType.archivedAt) throw new ValidationError(`event type "${name}" is archived`, "eventType");
  const schema = eventType.schema;
  const validate =
    schema === null
      ? () => undefined
      : (payload: unknown) =>
          validateAgainst(cachedSchema(`event-type:${eventType.id}:${eventType.version}`, schema), payload, "payload");
  const type = { name, version: eventType.version, validate };
  publishable.set(key, type);
  return type;
}

/**
 * Checks a payload against a JSON Schema without saving anything: what editors' Validate buttons ask (an event
 * type's example payload, an agent's test payload) before the schema is saved.
 * @throws ValidationError on `schema` when the schema does not compile, on `payload` when the payload fails it.
 */
export function checkPayloadAgainst(schema: unknown, payload: unknown): { valid: true } {
  validateAgainst(compileSchema(schema), payload, "payload");
  return { valid: true };
}
