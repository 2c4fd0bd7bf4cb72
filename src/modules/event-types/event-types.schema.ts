import { builder } from "../../builder.js";
import { prisma } from "../../db/prisma.js";
import { originOf } from "../../graphql/context.js";
import { pageSize } from "../../graphql/pagination.js";
import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import { localId } from "../../lib/ids.js";
import {
  archiveEventType,
  checkPayloadAgainst,
  createEventType,
  findEventType,
  updateEventType,
} from "./event-types.service.js";

const EventTypeObject = builder.prismaNode("EventType", {
  id: { field: "id" },
  description: "A kind of event. With a schema, every published payload must satisfy it.",
  fields: (t) => ({
    name: t.exposeString("name", {
      description: "The name events are published under, e.g. invoice.paid; unique in the tenant.",
    }),
    description: t.exposeString("description", {
      description: "What the event means, for the people who subscribe to it.",
      nullable: true,
    }),
    schema: t.expose("schema", { type: "JSON", nullable: true, description: "JSON Schema, draft 2020-12." }),
    archived: t.boolean({
      description: "True once archived: no new events of this type can be published.",
      resolve: (eventType) => eventType.archivedAt !== null,
    }),
    archivedAt: t.expose("archivedAt", {
      description: "When it was archived; null while it is not.",
      type: "DateTime",
      nullable: true,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const CreateEventTypeInput = builder.inputType("CreateEventTypeInput", {
  description: "A new event type: its name and the JSON Schema its payloads must satisfy.",
  fields: (t) => ({
    name: t.string({ description: "1-100 of A-Z a-z 0-9 _ . : - such as invoice.paid; unique in the tenant." }),
    description: t.string({ required: false, description: "What the event means, at most 1000 characters." }),
    schema: t.field({ type: "JSON", required: false, description: "JSON Schema (draft 2020-12), checked on save." }),
  }),
});

const UpdateEventTypeInput = builder.inputType("UpdateEventTypeInput", {
  description: "Only the fields given change; `schema: null` removes the schema.",
  fields: (t) => ({
    description: t.string({
      required: false,
      description: "What the event means, at most 1000 characters; null or an empty string clears it.",
    }),
    schema: t.field({
      type: "JSON",
      required: false,
      description: "JSON Schema (draft 2020-12), checked on save; null removes it and any payload is accepted.",
    }),
  }),
});

builder.queryField("eventTypes", (t) =>
  t.withAuth({ scope: "endpoints:read" }).prismaConnection(
    {
      type: "EventType",
      cursor: "id",
      ...pageSize({ defaultSize: 50, maxSize: 200 }),
      description: "The tenant's event types by name.",
      args: {
        includeArchived: t.arg.boolean({ defaultValue: false, description: "Also list the archived event types." }),
      },
      resolve: (query, _root, args, context) =>
        prisma.eventType.findMany({
          ...query,
          where: { tenantId: context.viewer.tenantId, ...(args.includeArchived ? {} : { archivedAt: null }) },
          orderBy: [{ name: "asc" }, { id: "asc" }],
        }),
    },
    { name: "EventTypeConnection" },
    { name: "EventTypeEdge" },
  ),
);

builder.queryField("eventType", (t) =>
  t.withAuth({ scope: "endpoints:read" }).prismaField({
    description: "One event type of the caller's tenant.",
    type: "EventType",
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id() },
    resolve: (query, _root, { id }, context) =>
      findEventType(context.viewer.tenantId, localId("EventType", id), prisma, query),
  }),
);

// Writes return the row they wrote: plain fields, since a prismaField would plan a query that no write runs (EventType
// has no relations to preload), and the tests fail on an unused query.
builder.mutationField("createEventType", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    description: "Registers an event type and the JSON Schema its payloads must satisfy.",
    type: EventTypeObject,
    errors: { types: [ValidationError, ConflictError] },
    args: { input: t.arg({ type: CreateEventTypeInput }) },
    resolve: (_root, { input }, context) =>
      createEventType(
        context.viewer.tenantId,
        { name: input.name, description: input.description, schema: input.schema ?? undefined },
        originOf(context),
      ),
  }),
);

builder.mutationField("updateEventType", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    description:
      "Changes an event type's description or schema; payloads published from then on are checked against the new schema.",
    type: EventTypeObject,
    errors: { types: [ValidationError, NotFoundError] },
    args: { id: t.arg.id(), input: t.arg({ type: UpdateEventTypeInput }) },
    resolve: (_root, { id, input }, context) =>
      updateEventType(
        context.viewer.tenantId,
        localId("EventType", id),
        { description: input.description, schema: input.schema },
        originOf(context),
      ),
  }),
);

builder.mutationField("archiveEventType", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    type: EventTypeObject,
    errors: { types: [NotFoundError] },
    description: "Stops new events of this type; what was published stays.",
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) =>
      archiveEventType(context.viewer.tenantId, localId("EventType", id), originOf(context)),
  }),
);

const PayloadValid = builder.objectRef<{ valid: true }>("PayloadValid").implement({
  description: "The payload satisfies the schema.",
  fields: (t) => ({
    valid: t.exposeBoolean("valid", {
      description: "Always true: a payload that fails answers ValidationError instead.",
    }),
  }),
});

// Any caller who signed in (the Query type's own rule): it reads and writes nothing of the tenant.
builder.queryField("validatePayload", (t) =>
  t.field({
    type: PayloadValid,
    errors: { types: [ValidationError] },
    description:
      "Checks a payload against a JSON Schema (draft 2020-12) without saving anything, for editors' Validate buttons. A schema that does not compile is a ValidationError on `schema`; a payload that fails it, on `payload`, with the failures.",
    args: {
      schema: t.arg({ type: "JSON", description: "The JSON Schema (draft 2020-12) to check against." }),
      payload: t.arg({ type: "JSON", description: "The JSON value to check." }),
    },
    resolve: (_root, { schema, payload }) => checkPayloadAgainst(schema, payload),
  }),
);
