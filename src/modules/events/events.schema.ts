import { builder } from "../../builder.js";
import { requireForNotice } from "../../db/notice-reads.js";
import { prisma } from "../../db/prisma.js";
import type { EventPublishedNotice } from "../../db/pubsub.js";
import type { Event } from "../../generated/prisma/client.js";
import { subscriptionError, subscriptionsOf } from "../../graphql/context.js";
import { pageSize } from "../../graphql/pagination.js";
import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors.js";
import { localId, toGlobalId } from "../../lib/ids.js";
import { messageId, webhookBody } from "../deliveries/delivery-sender.js";
import { cancelScheduledEvent, findEvent, MAX_BATCH, type PublishedEvent, publishEvents } from "./events.service.js";

export const EventObject = builder.prismaNode("Event", {
  id: { field: "id" },
  name: "Event",
  description: "A published event. Every delivery of it carries webhook-id = messageId.",
  fields: (t) => ({
    messageId: t.string({
      description: "The webhook-id header its deliveries carry (Standard Webhooks), the same for every attempt.",
      resolve: (event) => messageId(event.id),
    }),
    eventType: t.exposeString("eventType", {
      description: "The event type's name.",
    }),
    payload: t.expose("payload", {
      description: "The JSON body sent to every subscribed endpoint.",
      type: "JSON",
    }),
    idempotencyKey: t.exposeString("idempotencyKey", {
      description:
        "The key given at publish time; publishing again with it within 24 h returns this event instead of a new one.",
      nullable: true,
    }),
    requestId: t.exposeString("requestId", {
      description:
        "The id of the request that published it (its x-request-id, or the one the server answered with), which its log lines carry too; null when no request published it.",
      nullable: true,
    }),
    deliverAt: t.expose("deliverAt", {
      description: "When the event is due to go out, if it was published for later; null for at once.",
      type: "DateTime",
      nullable: true,
    }),
    cancelledAt: t.expose("cancelledAt", {
      description: "When a scheduled event was cancelled before going out; null otherwise.",
      type: "DateTime",
      nullable: true,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const PublishResult = builder.objectRef<PublishedEvent>("PublishedEvent").implement({
  description: "The outcome of publishing one event: the event and how many deliveries it made.",
  fields: (t) => ({
    event: t.field({
      type: EventObject,
      description: "The event published (or, for a repeated idempotency key, the first one).",
      resolve: (published) => published.event,
    }),
    deliveryCount: t.exposeInt("deliveryCount", {
      description: "Deliveries created: one per subscribed enabled endpoint.",
    }),
    duplicate: t.exposeBoolean("duplicate", {
      description:
        "The idempotency key matched an event of the last 24 hours: that event is returned, nothing is sent again.",
    }),
  }),
});

const PublishedEvents = builder.objectRef<{ results: PublishedEvent[] }>("PublishedEvents").implement({
  description: "The outcome of a batch publish, one result per event in the order sent.",
  fields: (t) => ({
    results: t.field({
      type: [PublishResult],
      description: "One result per event, in the order they were sent.",
      resolve: (batch) => batch.results,
    }),
  }),
});

const PublishEventInput = builder.inputType("PublishEventInput", {
  description: "One event to publish: its type, payload and optional idempotency key.",
  fields: (t) => ({
    eventType: t.string({ description: "A registered, unarchived event type; the payload must satisfy its schema." }),
    payload: t.field({ type: "JSON", description: "Any JSON value, at most 256 KB." }),
    idempotencyKey: t.string({ required: false, description: "Repeats within 24 h return the first event." }),
    deliverAt: t.field({
      type: "DateTime",
      required: false,
      description: "Send later (up to 30 days); cancellable until then.",
    }),
  }),
});

const toPublishInput = (input: {
  eventType: string;
  payload?: unknown;
  idempotencyKey?: string | null;
  deliverAt?: Date | null;
}) => ({
  eventType: input.eventType,
  payload: input.payload,
  idempotencyKey: input.idempotencyKey,
  deliverAt: input.deliverAt,
});

builder.mutationField("publishEvent", (t) =>
  t.withAuth({ scope: "events:publish" }).field({
    type: PublishResult,
    errors: { types: [ValidationError, ConflictError] },
    description: "Publishes one event: it and its deliveries are written in one transaction.",
    args: { input: t.arg({ type: PublishEventInput }) },
    resolve: async (_root, { input }, context) => {
      const [result] = await publishEvents(context.viewer.tenantId, [toPublishInput(input)], false);
      return result as PublishedEvent;
    },
  }),
);

builder.mutationField("publishEvents", (t) =>
  t.withAuth({ scope: "events:publish" }).field({
    type: PublishedEvents,
    errors: { types: [ValidationError, ConflictError] },
    description: `Publishes up to ${MAX_BATCH} events in one transaction: all or none. Errors name the input, e.g. events.3.payload.`,
    args: {
      events: t.arg({ type: [PublishEventInput], description: `The events to publish, 1 to ${MAX_BATCH}, in order.` }),
    },
    resolve: async (_root, { events }, context) => ({
      results: await publishEvents(context.viewer.tenantId, events.map(toPublishInput), true),
    }),
  }),
);

builder.mutationField("cancelScheduledEvent", (t) =>
  t.withAuth({ scope: "events:publish" }).field({
    type: EventObject,
    errors: { types: [NotFoundError, ConflictError] },
    description: "Cancels an event published with deliverAt, before it goes out.",
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) => cancelScheduledEvent(context.viewer.tenantId, localId("Event", id)),
  }),
);

builder.queryField("event", (t) =>
  t.withAuth({ scope: "deliveries:read" }).field({
    description: "One published event of the caller's tenant.",
    type: EventObject,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) => findEvent(context.viewer.tenantId, localId("Event", id)),
  }),
);

builder.queryField("events", (t) =>
  t.withAuth({ scope: "deliveries:read" }).prismaConnection(
    {
      type: "Event",
      cursor: "id",
      ...pageSize({ defaultSize: 20, maxSize: 100 }),
      description: "Published events, newest first.",
      args: { eventType: t.arg.string({ required: false, description: "Only events of this type (its exact name)." }) },
      resolve: (query, _root, args, context) =>
        prisma.event.findMany({
          ...query,
          where: {
            tenantId: context.viewer.tenantId,
            ...(args.eventType ? { eventType: args.eventType } : {}),
          },
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        }),
    },
    { name: "EventConnection" },
    { name: "EventEdge" },
  ),
);

/** At most this many names in eventPublished's filter. */
const MAX_EVENT_TYPE_FILTER = 100;

const OutboundEventType = builder.objectRef<{ event: Event }>("OutboundEvent");
OutboundEventType.implement({
  description:
    "A published event as its deliveries carry it: the webhook-id (messageId) and the exact body an endpoint receives, " +
    "so a listener can sign and post it like a real delivery.",
  fields: (t) => ({
    eventId: t.id({ description: "The event's id.", resolve: ({ event }) => toGlobalId("Event", event.id) }),
    messageId: t.string({
      description: "The webhook-id header its deliveries carry (Standard Webhooks).",
      resolve: ({ event }) => messageId(event.id),
    }),
    eventType: t.string({ description: "The event type's name.", resolve: ({ event }) => event.eventType }),
    createdAt: t.field({ type: "DateTime", resolve: ({ event }) => event.createdAt }),
    body: t.string({
      description: 'The delivery body: `{ "type", "timestamp", "data" }`, byte for byte as endpoints receive it.',
      resolve: ({ event }) =>
        webhookBody({ eventType: event.eventType, eventCreatedAt: event.createdAt, payload: event.payload }),
    }),
  }),
});

builder.subscriptionField("eventPublished", (t) =>
  t.withAuth({ scope: "deliveries:read" }).field({
    type: OutboundEventType,
    description:
      "The tenant's events as they are published (from any instance), whether or not an endpoint subscribes to them: " +
      "what `signalpost listen --forward-to` re-posts to a local URL. `eventTypes` (at most 100 names) keeps only those.",
    args: {
      eventTypes: t.arg.stringList({
        required: false,
        description: `Only events of these types (at most ${MAX_EVENT_TYPE_FILTER} names); every type when omitted or empty.`,
      }),
    },
    subscribe: (_root, { eventTypes }, context) => {
      const { tenantId } = context.viewer;
      if (eventTypes && eventTypes.length > MAX_EVENT_TYPE_FILTER)
        throw subscriptionError(new ValidationError(`at most ${MAX_EVENT_TYPE_FILTER} event types`, "eventTypes"));
      const wanted = eventTypes?.length ? new Set(eventTypes) : null;
      return subscriptionsOf(context).subscribe(
        "event:published",
        tenantId,
        (notice: EventPublishedNotice) => !wanted || wanted.has(notice.eventType),
      );
    },
    resolve: async (notice, _args, context) => ({
      event: await requireForNotice<Event>(
        notice,
        { model: "event", tenantId: context.viewer.tenantId, id: notice.eventId },
        "event",
      ),
    }),
  }),
);
