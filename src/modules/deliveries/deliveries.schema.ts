import { builder } from "../../builder.js";
import { readForNotice, requireForNotice } from "../../db/notice-reads.js";
import { prisma } from "../../db/prisma.js";
import type { DeliveryChange, HealthChange } from "../../db/pubsub.js";
import type { Delivery, Endpoint } from "../../generated/prisma/client.js";
import { type GraphQLContext, originOf, subscriptionsOf } from "../../graphql/context.js";
import { pageSize } from "../../graphql/pagination.js";
import { ConflictError, NotFoundError, RateLimitedError, ValidationError } from "../../lib/errors.js";
import type { OutboundClient } from "../../lib/http-client.js";
import { localId, optionalLocalId, toGlobalId } from "../../lib/ids.js";
import { EndpointType } from "../endpoints/endpoints.schema.js";
import {
  findDelivery,
  recoverEndpoint,
  retryDelivery,
  type Sending,
  type SendReport,
  sendTestEvent,
  sendTestEventToAll,
} from "./deliveries.service.js";
import { attemptWhere, deliveryWhere, type STATUS_CODE_CLASSES } from "./delivery-filters.js";
import { type EndpointCredentialCache, messageId, type RequestAsSent, requestAsSent } from "./delivery-sender.js";
import { exportDeliveries, MAX_EXPORT_BYTES, MAX_EXPORT_ROWS } from "./export.js";
import { type EndpointHealth, endpointHealth, type HealthWindow } from "./health.service.js";

declare module "../../graphql/context.js" {
  interface ContextServices {
    /** The process's outbound HTTP client (its connection pools), for test sends and manual retries. */
    outbound?: OutboundClient;
    /** Endpoints' decrypted signing secrets and header values, opened with the keyring once per change. */
    endpointCredentials: EndpointCredentialCache;
  }
}

/**
 * What test sends and manual retries need of the app context. The outbound client is asked for only when there is
 * something to send. @throws when the server was built without one (a programming error).
 */
function sendingOf(context: GraphQLContext): Sending {
  const { services } = context;
  return {
    client: () => {
      if (!services.outbound) throw new Error("the outbound HTTP client is not started");
      return services.outbound;
    },
    credentials: services.endpointCredentials,
    outboundRules: services.outboundRules,
  };
}

const DeliveryStatusEnum = builder.enumType("DeliveryStatus", {
  description: "Where a delivery (one event to one endpoint) is in its life.",
  values: {
    PENDING: { description: "Waiting for its first attempt or its next retry." },
    SENDING: { description: "A worker is sending it." },
    SUCCEEDED: { description: "The receiver answered 2xx; no more attempts." },
    FAILED: { description: "Dead letter: see failureReason. retryDelivery or recoverEndpoint sends it again." },
    CANCELLED: { description: "A scheduled delivery cancelled before it went out." },
  } as const,
});
const AttemptTriggerEnum = builder.enumType("AttemptTrigger", {
  description: "What started a delivery attempt.",
  values: {
    SCHEDULED: { description: "The first attempt or a retry, sent by a worker on schedule." },
    MANUAL: { description: "A retry asked for through the API (retryDelivery, recoverEndpoint)." },
    TEST: { description: "A test send (sendTestWebhook): no event or delivery behind it." },
  } as const,
});
const StatusCodeClassEnum = builder.enumType("StatusCodeClass", {
  description: "A class of HTTP answers, for filtering attempts.",
  values: {
    SUCCESS_2XX: { description: "The receiver answered 200-299." },
    REDIRECT_3XX: { description: "The receiver answered 300-399 (redirects are not followed)." },
    CLIENT_ERROR_4XX: { description: "The receiver answered 400-499." },
    SERVER_ERROR_5XX: { description: "The receiver answered 500-599." },
    NO_RESPONSE: { description: "No HTTP answer: timeout, DNS, connection or TLS failure, or a blocked address." },
  } satisfies Record<(typeof STATUS_CODE_CLASSES)[number], { description: string }>,
});
const ExportFormatEnum = builder.enumType("ExportFormat", {
  description: "The file format of a delivery export.",
  values: {
    NDJSON: { description: "One JSON object per line (application/x-ndjson)." },
    CSV: { description: "Comma-separated values with a header row (text/csv)." },
  } as const,
});
const HealthStateEnum = builder.enumType("EndpointHealthState", {
  description: "An endpoint's health, from whether it is enabled and its consecutive failures.",
  values: {
    HEALTHY: { description: "Enabled, and its latest attempt did not fail." },
    FAILING: { description: "Enabled, and its latest attempts failed (consecutiveFailures > 0); retries continue." },
    DISABLED: { description: "The endpoint is disabled (by a person or automatically); nothing is sent to it." },
  } as const,
});

builder.prismaNode("DeliveryAttempt", {
  id: { field: "id" },
  description: "One HTTP attempt, as the receiver answered it.",
  fields: (t) => ({
    number: t.exposeInt("number", { description: "1 for the first attempt of the delivery." }),
    trigger: t.expose("trigger", {
      type: AttemptTriggerEnum,
      description: "What started this attempt: a scheduled send or retry, a manual retry, or a test send.",
    }),
    statusCode: t.exposeInt("statusCode", {
      nullable: true,
      description: "Null when no response came (see errorClass).",
    }),
    durationMs: t.exposeInt("durationMs", {
      description: "Milliseconds from sending the request to the end of the answer (or to the failure).",
    }),
    responseHeaders: t.expose("responseHeaders", {
      type: "JSON",
      nullable: true,
      description: "The receiver's response headers, names to values; null when no response came.",
    }),
    responseBody: t.exposeString("responseBody", { nullable: true, description: "At most 16 KB." }),
    errorClass: t.exposeString("errorClass", {
      nullable: true,
      description:
        "The kind of failure: timeout, dns, connection_refused, tls, blocked_address, http_status or network.",
    }),
    errorMessage: t.exposeString("errorMessage", {
      nullable: true,
      description:
        "The failure as the HTTP client reported it; null when the attempt got an answer it did not count as an error.",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    delivery: t.relation("delivery", { description: "The delivery this attempt belongs to." }),
    endpoint: t.relation("endpoint", { description: "The endpoint the attempt was sent to." }),
  }),
});

const DeliveryRequest = builder.objectRef<RequestAsSent>("DeliveryRequest").implement({
  description:
    "The request a delivery sends on every attempt. webhook-timestamp and webhook-signature are added at each attempt and not kept.",
  fields: (t) => ({
    body: t.exposeString("body", { description: "Byte for byte as the endpoint receives it." }),
    headers: t.expose("headers", {
      type: "JSON",
      description: "Header names to values; custom header values masked as on the endpoint.",
    }),
  }),
});

const DeliveryObject = builder.prismaNode("Delivery", {
  id: { field: "id" },
  description: "One event for one endpoint: sent, retried, dead-lettered and replayed as a unit.",
  fields: (t) => ({
    messageId: t.string({
      description: "The webhook-id header, the same on every attempt.",
      resolve: (d) => messageId(d.eventId),
    }),
    eventType: t.exposeString("eventType", { description: "The name of the event's type." }),
    status: t.expose("status", { type: DeliveryStatusEnum, description: "Where the delivery is in its life." }),
    attemptCount: t.exposeInt("attemptCount", {
      description: "How many attempts were recorded, manual retries included; 0 before the first.",
    }),
    nextAttemptAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the next attempt is due, while PENDING; null in every other status.",
      resolve: (delivery) => (delivery.status === "PENDING" ? delivery.dueAt : null),
    }),
    lastStatusCode: t.exposeInt("lastStatusCode", {
      nullable: true,
      description: "The HTTP status of the latest attempt; null before the first or when it got no response.",
    }),
    lastError: t.exposeString("lastError", {
      nullable: true,
      description:
        "One line on why the latest attempt failed (`HTTP 503`, or the failure kind and message); null before the first attempt or when it succeeded.",
    }),
    lastAttemptAt: t.expose("lastAttemptAt", {
      type: "DateTime",
      nullable: true,
      description: "When the latest attempt finished; null before the first.",
    }),
    completedAt: t.expose("completedAt", {
      type: "DateTime",
      nullable: true,
      description: "When it reached SUCCEEDED or FAILED; null while it may still be sent.",
    }),
    failureReason: t.exposeString("failureReason", {
      nullable: true,
      description:
        "Why a FAILED delivery stopped: attempts_exhausted, not_retryable_status, blocked_address, endpoint_gone, endpoint_disabled...",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    event: t.relation("event", { description: "The event this delivery sends." }),
    endpoint: t.relation("endpoint", { description: "The endpoint it is sent to." }),
    attempts: t.relation("attempts", {
      description: "Every attempt so far, first to last.",
      query: { orderBy: { number: "asc" } },
    }),
    request: t.field({
      type: DeliveryRequest,
      description: "The request as sent: headers (custom values masked) and body.",
      select: {
        eventId: true,
        eventType: true,
        event: { select: { payload: true, createdAt: true, rawBody: true, extraHeaders: true } },
        endpoint: { select: { headerNames: true } },
      },
      resolve: (delivery) => requestAsSent(delivery),
    }),
  }),
});

const DeliveryFilterInput = builder.inputType("DeliveryFilter", {
  description: "Narrows the delivery log; every field given must match.",
  fields: (t) => ({
    endpointId: t.id({ required: false, description: "Only deliveries to this endpoint." }),
    eventId: t.id({ required: false, description: "Only deliveries of this event." }),
    eventType: t.string({ required: false, description: "Only deliveries of events of this type (its exact name)." }),
    statuses: t.field({
      type: [DeliveryStatusEnum],
      required: false,
      description: "Only deliveries in one of these statuses.",
    }),
    statusCodeClass: t.field({ type: StatusCodeClassEnum, required: false, description: "Of the last attempt." }),
    since: t.field({ type: "DateTime", required: false, description: "Created at or after (inclusive)." }),
    until: t.field({ type: "DateTime", required: false, description: "Created before (exclusive)." }),
  }),
});

const AttemptFilterInput = builder.inputType("DeliveryAttemptFilter", {
  description: "Narrows the attempt log; every field given must match.",
  fields: (t) => ({
    endpointId: t.id({ required: false, description: "Only attempts sent to this endpoint." }),
    deliveryId: t.id({ required: false, description: "Only attempts of this delivery." }),
    statusCodeClass: t.field({
      type: StatusCodeClassEnum,
      required: false,
      description: "Only attempts whose answer falls in this class.",
    }),
    triggers: t.field({
      type: [AttemptTriggerEnum],
      required: false,
      description: "Only attempts started by one of these.",
    }),
    since: t.field({ type: "DateTime", required: false, description: "Made at or after (inclusive)." }),
    until: t.field({ type: "DateTime", required: false, description: "Made before (exclusive)." }),
  }),
});

function filterOf(
  filter: { endpointId?: string | null; eventId?: string | null; [key: string]: unknown } | null | undefined,
) {
  if (!filter) return {};
  return {
    ...filter,
    endpointId: optionalLocalId("Endpoint", filter.endpointId) ?? null,
    eventId: optionalLocalId("Event", filter.eventId) ?? null,
  };
}

builder.queryField("deliveries", (t) =>
  t.withAuth({ scope: "deliveries:read" }).prismaConnection(
    {
      type: "Delivery",
      cursor: "id",
      ...pageSize({ defaultSize: 20, maxSize: 100 }),
      errors: { types: [ValidationError] },
      description: "The delivery log, newest first.",
      args: { filter: t.arg({ type: DeliveryFilterInput, required: false }) },
      resolve: (query, _root, { filter }, context) =>
        prisma.delivery.findMany({
          ...query,
          where: deliveryWhere(context.viewer.tenantId, filterOf(filter)),
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        }),
    },
    { name: "DeliveryConnection" },
    { name: "DeliveryEdge" },
  ),
);

builder.queryField("deliveryAttempts", (t) =>
  t.withAuth({ scope: "deliveries:read" }).prismaConnection(
    {
      type: "DeliveryAttempt",
      cursor: "id",
      ...pageSize({ defaultSize: 20, maxSize: 100 }),
      errors: { types: [ValidationError] },
      description: "Every attempt, newest first.",
      args: { filter: t.arg({ type: AttemptFilterInput, required: false }) },
      resolve: (query, _root, { filter }, context) =>
        prisma.deliveryAttempt.findMany({
          ...query,
          where: attemptWhere(context.viewer.tenantId, {
            ...filter,
            endpointId: optionalLocalId("Endpoint", filter?.endpointId) || null,
            deliveryId: optionalLocalId("Delivery", filter?.deliveryId) || null,
          }),
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        }),
    },
    { name: "DeliveryAttemptConnection" },
    { name: "DeliveryAttemptEdge" },
  ),
);

builder.queryField("delivery", (t) =>
  t.withAuth({ scope: "deliveries:read" }).prismaField({
    description: "One delivery (an event to one endpoint) with its attempts.",
    type: "Delivery",
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id() },
    resolve: (query, _root, { id }, context) => findDelivery(context.viewer.tenantId, localId("Delivery", id), query),
  }),
);

const DeliveryExport = builder
  .objectRef<{ format: "NDJSON" | "CSV"; contentType: string; rowCount: number; truncated: boolean; data: string }>(
    "DeliveryExport",
  )
  .implement({
    description: "The delivery log written out as one file's text (NDJSON or CSV).",
    fields: (t) => ({
      format: t.field({
        description: "The format of `data`: NDJSON or CSV.",
        type: ExportFormatEnum,
        resolve: (exported) => exported.format,
      }),
      contentType: t.exposeString("contentType", {
        description: "The MIME type of `data`, for saving it as a file.",
      }),
      rowCount: t.exposeInt("rowCount", {
        description: "How many deliveries `data` holds.",
      }),
      truncated: t.exposeBoolean("truncated", {
        description: `True when the rows asked for came to more than ${MAX_EXPORT_BYTES / 1024 / 1024} MB and the export stopped before the first row that did not fit: narrow the filter (until) to read on.`,
      }),
      data: t.exposeString("data", {
        description: "The export's text: one delivery per line (NDJSON) or row (CSV), newest first.",
      }),
    }),
  });

builder.queryField("exportDeliveries", (t) =>
  t.withAuth({ scope: "deliveries:read" }).field({
    type: DeliveryExport,
    errors: { types: [ValidationError] },
    description: `The delivery log as NDJSON or CSV, newest first, at most ${MAX_EXPORT_ROWS} rows and ${MAX_EXPORT_BYTES / 1024 / 1024} MB.`,
    // Up to 16 MB of text each: four exports fill an operation's cost, not thirty aliases.
    complexity: { field: 2_500, multiplier: 1 },
    args: {
      filter: t.arg({ type: DeliveryFilterInput, required: false }),
      format: t.arg({ type: ExportFormatEnum, defaultValue: "NDJSON", description: "The file format of `data`." }),
      limit: t.arg.int({
        defaultValue: 1_000,
        description: `The most deliveries to write, 1 to ${MAX_EXPORT_ROWS}; outside that answers VALIDATION_ERROR on limit.`,
      }),
    },
    resolve: (_root, args, context) =>
      exportDeliveries(context.viewer.tenantId, filterOf(args.filter), args.format, args.limit),
  }),
);

const ErrorDetail = builder.objectRef<{ class: string; message: string }>("AttemptError").implement({
  description: "Why an attempt got no usable answer: the kind of failure and its message.",
  fields: (t) => ({
    class: t.exposeString("class", {
      description:
        "The kind of failure: timeout, dns, connection_refused, tls, blocked_address, http_status or network.",
    }),
    message: t.exposeString("message", {
      description: "The failure as the HTTP client reported it.",
    }),
  }),
});

const SendResult = builder.objectRef<SendReport>("SendResult").implement({
  description: "What the receiver answered to a send made just now.",
  fields: (t) => ({
    // The send already read the row: a plain field hands it over (relations a client selects are loaded by the
    // Prisma plugin on demand). A prismaField would build a query here that nothing runs, and Pothos warns of it.
    delivery: t.field({
      type: DeliveryObject,
      description: "The delivery that was sent, as it is after this attempt.",
      resolve: (report) => report.delivery,
    }),
    attemptNumber: t.exposeInt("attemptNumber", {
      description: "This attempt's number in the delivery (1 for the first).",
    }),
    statusCode: t.int({
      nullable: true,
      description: "The receiver's HTTP status; null when no response came (see error).",
      resolve: (report) => report.result.statusCode,
    }),
    durationMs: t.int({
      description: "Milliseconds the attempt took, rounded.",
      resolve: (report) => Math.round(report.result.durationMs),
    }),
    responseBody: t.string({
      description: "The receiver's response body, at most 16 KB; empty when no response came.",
      resolve: (report) => report.result.responseBody,
    }),
    error: t.field({
      type: ErrorDetail,
      nullable: true,
      description: "Why the attempt failed; null when the receiver answered without an error.",
      resolve: (report) => report.result.error,
    }),
  }),
});

builder.mutationField("retryDelivery", (t) =>
  t.withAuth({ scope: "deliveries:write" }).field({
    type: SendResult,
    errors: { types: [NotFoundError, ConflictError] },
    description: "Sends the delivery now (a MANUAL attempt with the same webhook-id), whatever its state.",
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) =>
      retryDelivery(sendingOf(context), context.viewer.tenantId, localId("Delivery", id)),
  }),
);

const RecoverResult = builder.objectRef<{ count: number; dryRun: boolean }>("RecoverResult").implement({
  description: "What recoverEndpoint found (and, unless dryRun, queued again).",
  fields: (t) => ({
    count: t.exposeInt("count", { description: "Failed deliveries in the window (queued again unless dryRun)." }),
    dryRun: t.exposeBoolean("dryRun", { description: "True when nothing was queued: the count is what would be." }),
  }),
});

builder.mutationField("recoverEndpoint", (t) =>
  t.withAuth({ scope: "deliveries:write" }).field({
    type: RecoverResult,
    errors: { types: [NotFoundError, ValidationError, ConflictError] },
    description: "Queues the endpoint's failed deliveries created in [since, until) again with a fresh retry schedule.",
    args: {
      endpointId: t.arg.id({ description: "The endpoint whose failed deliveries to send again." }),
      since: t.arg({ type: "DateTime", description: "Deliveries created at or after this (inclusive)." }),
      until: t.arg({
        type: "DateTime",
        required: false,
        description: "Deliveries created before this (exclusive); now when omitted.",
      }),
      dryRun: t.arg.boolean({
        defaultValue: false,
        description: "Only count the deliveries, queue nothing.",
      }),
    },
    resolve: async (_root, args, context) => ({
      count: await recoverEndpoint(
        context.viewer.tenantId,
        localId("Endpoint", args.endpointId),
        { since: args.since, until: args.until, dryRun: args.dryRun },
        originOf(context),
      ),
      dryRun: args.dryRun,
    }),
  }),
);

builder.mutationField("sendTestEvent", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    type: SendResult,
    errors: { types: [NotFoundError, RateLimitedError] },
    description:
      "Sends a signalpost.test event to the endpoint now and returns the answer. At most 5 a minute per endpoint.",
    args: { endpointId: t.arg.id({ description: "The endpoint to send the test event to." }) },
    resolve: (_root, { endpointId }, context) =>
      sendTestEvent(sendingOf(context), context.viewer.tenantId, localId("Endpoint", endpointId), originOf(context)),
  }),
);

const TestSendToEndpoint = builder
  .objectRef<{ endpoint: Endpoint; report: SendReport | null; error: RateLimitedError | null }>("TestSendToEndpoint")
  .implement({
    description: "One endpoint's part of sendTestEventToAll: its own answer, or why it was not sent.",
    fields: (t) => ({
      endpoint: t.field({ type: EndpointType, description: "The endpoint sent to.", resolve: (item) => item.endpoint }),
      outcome: t.field({
        type: SendResult,
        description: "The receiver's answer, or RateLimitedError (with retryAfterSeconds) when over its test limit.",
        errors: {
          types: [RateLimitedError],
          union: { name: "TestSendOutcome", description: "The receiver's answer to a test send, or RateLimitedError." },
        },
        resolve: (item) => {
          // Thrown here, the errors plugin turns it into the union's RateLimitedError member for this item alone.
          if (item.error) throw item.error;
          return item.report as SendReport;
        },
      }),
      result: t.field({
        type: SendResult,
        nullable: true,
        description: "The receiver's answer; null when this endpoint was not sent to (see outcome).",
        resolve: (item) => item.report,
      }),
    }),
  });

builder.mutationField("sendTestEventToAll", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    type: [TestSendToEndpoint],
    description:
      "A test send to every enabled endpoint, concurrently. Each item carries that endpoint's own outcome: one over its limit (5 a minute) does not fail the others.",
    resolve: (_root, _args, context) =>
      sendTestEventToAll(sendingOf(context), context.viewer.tenantId, originOf(context)),
  }),
);

const HealthWindowType = builder.objectRef<HealthWindow>("EndpointHealthWindow").implement({
  description: "An endpoint's attempts over one time window: counts, success rate and latency percentiles.",
  fields: (t) => ({
    attempts: t.exposeInt("attempts", { description: "Attempts made in the window, test sends excluded." }),
    successes: t.exposeInt("successes", { description: "Attempts that succeeded (a 2xx answer)." }),
    failures: t.exposeInt("failures", { description: "Attempts that failed: attempts minus successes." }),
    successRate: t.exposeFloat("successRate", { nullable: true, description: "0 to 1; null without attempts." }),
    p50Ms: t.exposeInt("p50Ms", {
      nullable: true,
      description: "Median attempt duration in milliseconds, rounded; null without attempts.",
    }),
    p95Ms: t.exposeInt("p95Ms", {
      nullable: true,
      description: "95th percentile attempt duration in milliseconds, rounded; null without attempts.",
    }),
    p99Ms: t.exposeInt("p99Ms", {
      nullable: true,
      description: "99th percentile attempt duration in milliseconds, rounded; null without attempts.",
    }),
  }),
});

const EndpointHealthType = builder.objectRef<EndpointHealth>("EndpointHealth").implement({
  description: "Attempt figures (test sends excluded) and the failure streak that drives auto-disable.",
  fields: (t) => ({
    lastHour: t.field({
      type: HealthWindowType,
      description: "Attempts over the last 60 minutes.",
      resolve: (health) => health.lastHour,
    }),
    lastDay: t.field({
      type: HealthWindowType,
      description: "Attempts over the last 24 hours.",
      resolve: (health) => health.lastDay,
    }),
    lastSuccessAt: t.expose("lastSuccessAt", {
      type: "DateTime",
      nullable: true,
      description: "When an attempt last succeeded; null if none has.",
    }),
    lastFailureAt: t.expose("lastFailureAt", {
      type: "DateTime",
      nullable: true,
      description: "When an attempt last failed; null if none has.",
    }),
    consecutiveFailures: t.exposeInt("consecutiveFailures", {
      description: "Failed attempts in a row since the last success; 0 when the latest attempt succeeded.",
    }),
    failingSince: t.expose("failingSince", {
      type: "DateTime",
      nullable: true,
      description: "When the current failure streak began; null when there is none.",
    }),
    state: t.field({
      type: HealthStateEnum,
      description: "HEALTHY, FAILING or DISABLED, from `enabled` and consecutiveFailures.",
      resolve: (health) => health.state,
    }),
  }),
});

builder.prismaObjectField("Endpoint", "health", (t) =>
  t.field({
    type: EndpointHealthType,
    description: "Its attempt figures over the last hour and day, and its current failure streak.",
    resolve: (endpoint) => endpointHealth(endpoint),
  }),
);

builder.subscriptionField("deliveryUpdated", (t) =>
  t.withAuth({ scope: "deliveries:read" }).prismaField({
    type: "Delivery",
    description:
      "Deliveries of the tenant as their attempts are recorded (succeeded, rescheduled or failed), from any worker. " +
      "Both filters are optional.",
    args: {
      endpointId: t.arg.id({ required: false, description: "Only deliveries to this endpoint." }),
      eventId: t.arg.id({ required: false, description: "Only deliveries of this event." }),
    },
    subscribe: (_root, args, context) => {
      // Decoded once here, not for every change.
      const endpointId = args.endpointId ? localId("Endpoint", args.endpointId) : null;
      const eventId = args.eventId ? localId("Event", args.eventId) : null;
      return subscriptionsOf(context).subscribe(
        "delivery:updated",
        context.viewer.tenantId,
        (change: DeliveryChange) =>
          (!endpointId || change.endpointId === endpointId) && (!eventId || change.eventId === eventId),
      );
    },
    resolve: (query, change, _args, context) =>
      requireForNotice<Delivery>(
        change,
        { model: "delivery", tenantId: context.viewer.tenantId, id: change.deliveryId, selection: query },
        "delivery",
      ),
  }),
);

const EndpointHealthChangeType = builder.objectRef<HealthChange>("EndpointHealthChange").implement({
  description: "An endpoint's health state moved: a first failure, a success ending a streak, disabled or enabled.",
  fields: (t) => ({
    endpointId: t.id({
      description: "The endpoint's id (still given when the endpoint was deleted since).",
      resolve: (change) => toGlobalId("Endpoint", change.endpointId),
    }),
    state: t.field({ type: HealthStateEnum, description: "The state it moved to.", resolve: (change) => change.state }),
    previousState: t.field({
      type: HealthStateEnum,
      description: "The state it was in before.",
      resolve: (change) => change.previousState,
    }),
    endpoint: t.prismaField({
      type: "Endpoint",
      nullable: true,
      description: "The endpoint as it is now (null if it was deleted since).",
      resolve: (query, change) =>
        readForNotice<Endpoint>(change, {
          model: "endpoint",
          tenantId: change.tenantId,
          id: change.endpointId,
          selection: query,
        }),
    }),
  }),
});

builder.subscriptionField("endpointHealthChanged", (t) =>
  t.withAuth({ scope: "endpoints:read" }).field({
    type: EndpointHealthChangeType,
    description: "The tenant's endpoints as their health state changes, from any worker. The filter is optional.",
    args: { endpointId: t.arg.id({ required: false, description: "Only changes of this endpoint." }) },
    subscribe: (_root, args, context) => {
      const endpointId = args.endpointId ? localId("Endpoint", args.endpointId) : null;
      return subscriptionsOf(context).subscribe(
        "endpoint:health",
        context.viewer.tenantId,
        (change: HealthChange) => !endpointId || change.endpointId === endpointId,
      );
    },
    resolve: (change) => change,
  }),
);
