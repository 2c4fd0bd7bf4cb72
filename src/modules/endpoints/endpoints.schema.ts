import { builder } from "../../builder.js";
import { prisma } from "../../db/prisma.js";
import { UNKNOWN_SECRET_MASK } from "../../db/secret-masks.js";
import type { Endpoint } from "../../generated/prisma/client.js";
import { originOf } from "../../graphql/context.js";
import { pageSize } from "../../graphql/pagination.js";
import { ConflictError, NotFoundError, RateLimitedError, ValidationError } from "../../lib/errors.js";
import { localId } from "../../lib/ids.js";
import { maskUrlCredentials } from "../../lib/url-credentials.js";
import { HEADER_VALUE_MASK, maskedHeaders } from "./endpoint-headers.js";
import {
  createEndpoint,
  deleteEndpoint,
  disableEndpoint,
  enableEndpoint,
  findEndpoint,
  revealEndpointHeaders,
  revealEndpointSecret,
  revealEndpointUrl,
  rotateEndpointSecret,
  updateEndpoint,
} from "./endpoints.service.js";
import type { OutboundRules } from "./outbound-rules.js";
import { DEFAULT_RETRY_DELAYS } from "./retry-policy.js";

declare module "../../graphql/context.js" {
  interface ContextServices {
    /** The instance's outbound rules in force (URL checks, default retry schedule), moved by the live settings. */
    outboundRules: OutboundRules;
  }
}

export const RetryPolicy = builder
  .objectRef<{ delays: readonly number[]; isDefault: boolean }>("RetryPolicy")
  .implement({
    description: "When failed deliveries are tried again: the first attempt is immediate, then one retry per delay.",
    fields: (t) => ({
      delaysSeconds: t.field({
        description: "Seconds before each retry after a failed attempt, in order.",
        type: ["Int"],
        resolve: (policy) => [...policy.delays],
      }),
      maxAttempts: t.int({
        description: "Attempts in all: the first one and one per delay.",
        resolve: (policy) => policy.delays.length + 1,
      }),
      isDefault: t.exposeBoolean("isDefault", {
        description: "True when the endpoint uses the instance's default policy rather than its own.",
      }),
    }),
  });

const SecretSummary = builder
  .objectRef<{ masked: string; version: number; createdAt: Date }>("EndpointSecretSummary")
  .implement({
    description: "The current signing secret, masked. revealEndpointSecret shows it in full.",
    fields: (t) => ({
      masked: t.exposeString("masked", {
        description: "The secret, masked.",
      }),
      version: t.exposeInt("version", {
        description: "The secret's version: 1 at creation, one more at each rotation.",
      }),
      createdAt: t.expose("createdAt", { type: "DateTime" }),
    }),
  });

export const EndpointType = builder.prismaNode("Endpoint", {
  id: { field: "id" },
  description: "A subscriber URL that receives signed deliveries of the event types it asks for.",
  fields: (t) => ({
    name: t.exposeString("name", {
      description: "The endpoint's name, unique in the tenant.",
    }),
    url: t.string({
      description:
        "The delivery URL with its credentials masked: every query parameter's value (?token=****, names in full) and userinfo from before it was refused (user:****@). revealEndpointUrl shows it in full; sending it back masked in updateEndpoint keeps the stored values.",
      resolve: (endpoint) => maskUrlCredentials(endpoint.url),
    }),
    description: t.exposeString("description", {
      description: "What the endpoint is for; null when not given.",
      nullable: true,
    }),
    eventTypes: t.exposeStringList("eventTypes", { description: "Event type names received; empty means all." }),
    headers: t.field({
      type: "JSON",
      description: `Extra request headers sent with every delivery: names in full, values masked ("${HEADER_VALUE_MASK}"; encrypted at rest). revealEndpointHeaders shows the values. Sending a masked value back in updateEndpoint keeps the stored one.`,
      resolve: (endpoint) => maskedHeaders(endpoint),
    }),
    timeoutMs: t.exposeInt("timeoutMs", {
      description: "How long one attempt may take, in milliseconds (1000 to 30000) before it fails as a timeout.",
    }),
    retryPolicy: t.field({
      description: "When failed deliveries to it are retried.",
      type: RetryPolicy,
      resolve: (endpoint, _args, context) => ({
        delays: context.services.outboundRules.effectiveDelays(endpoint),
        isDefault: !endpoint.retryPolicyCustom,
      }),
    }),
    verifyTls: t.exposeBoolean("verifyTls", {
      description: "Whether the receiver's TLS certificate is verified; false is flagged in `warnings`.",
    }),
    warnings: t.stringList({
      description: "Risky settings to show next to the endpoint, e.g. TLS verification switched off.",
      resolve: (endpoint) => (endpoint.verifyTls ? [] : ["TLS certificate verification is disabled for this endpoint"]),
    }),
    enabled: t.exposeBoolean("enabled", {
      description:
        "False while deliveries to it are stopped (disableEndpoint, or automatically after repeated failures).",
    }),
    disabledReason: t.exposeString("disabledReason", {
      description: "Why it was disabled (by a person, or the automatic reason); null while enabled.",
      nullable: true,
    }),
    disabledAt: t.expose("disabledAt", {
      description: "When it was disabled; null while enabled.",
      type: "DateTime",
      nullable: true,
    }),
    secret: t.field({
      description: "Its current signing secret, masked, with its version.",
      type: SecretSummary,
      // The newest secret's stored mask, loaded with the endpoint (one query for a whole page): nothing is decrypted.
      select: {
        secrets: { orderBy: { version: "desc" }, take: 1, select: { masked: true, version: true, createdAt: true } },
      },
      resolve: (endpoint) => {
        // Every endpoint is created with a secret and secrets are never deleted on their own.
        const current = endpoint.secrets[0] as (typeof endpoint.secrets)[number];
        return {
          masked: current.masked ?? UNKNOWN_SECRET_MASK,
          version: current.version,
          createdAt: current.createdAt,
        };
      },
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

export const RetryPolicyInput = builder.inputType("RetryPolicyInput", {
  description: "When to retry a failed delivery: the delays between attempts.",
  fields: (t) => ({
    delaysSeconds: t.intList({ description: "Seconds before each retry, e.g. [10, 60, 600]." }),
    maxAttempts: t.int({
      required: false,
      description: "Attempts in all; longer than the list repeats its last delay.",
    }),
  }),
});

const endpointFields = {
  url: "Absolute http(s) URL. Production (DATABASE_URL) requires https and refuses private addresses unless allowlisted. Query parameter values are read back masked (?token=****).",
  eventTypes:
    "Event type names to receive, each one of the tenant's types, matched exactly (no wildcards); empty or omitted means all.",
};

const CreateEndpointInput = builder.inputType("CreateEndpointInput", {
  description: "A new endpoint that receives signed webhooks for the event types it subscribes to.",
  fields: (t) => ({
    name: t.string({ description: "Unique within the tenant." }),
    url: t.string({ description: endpointFields.url }),
    description: t.string({ required: false, description: "Free text for people, at most 1000 characters." }),
    eventTypes: t.stringList({ required: false, description: endpointFields.eventTypes }),
    headers: t.field({
      type: "JSON",
      required: false,
      description:
        "An object of header names to string values (visible ASCII or Latin-1). Values are encrypted at rest and read back masked.",
    }),
    timeoutMs: t.int({ required: false, description: "1000 to 30000; 15000 when omitted." }),
    retryPolicy: t.field({
      type: RetryPolicyInput,
      required: false,
      description: `Without one, the instance's default schedule (settings; ${DEFAULT_RETRY_DELAYS.join(", ")} s unless changed).`,
    }),
    verifyTls: t.boolean({ required: false, description: "Turning it off is audited and flagged in `warnings`." }),
    secret: t.string({ required: false, description: "A whsec_ secret to use instead of a generated one." }),
  }),
});

const UpdateEndpointInput = builder.inputType("UpdateEndpointInput", {
  description: "Only the fields given change. `retryPolicy: null` returns to the default schedule.",
  fields: (t) => ({
    name: t.string({ required: false, description: "1 to 100 characters, unique within the tenant." }),
    url: t.string({ required: false, description: endpointFields.url }),
    description: t.string({
      required: false,
      description: "Free text for people, at most 1000 characters; null or an empty string clears it.",
    }),
    eventTypes: t.stringList({ required: false, description: endpointFields.eventTypes }),
    headers: t.field({
      type: "JSON",
      required: false,
      description:
        "Replaces every custom header (at most 20, values up to 1024 characters); a value sent back as the mask keeps its stored value, `{}` drops them all. A new URL origin needs the values sent again.",
    }),
    timeoutMs: t.int({ required: false, description: "Milliseconds to wait for an answer, 1000 to 30000." }),
    retryPolicy: t.field({
      type: RetryPolicyInput,
      required: false,
      description: "A schedule of its own; null returns to the instance's default schedule.",
    }),
    verifyTls: t.boolean({
      required: false,
      description: "Whether to check the receiver's TLS certificate; turning it off is audited.",
    }),
  }),
});

const CreatedEndpoint = builder.objectRef<{ endpoint: Endpoint; secret: string }>("CreatedEndpoint").implement({
  description: "A new endpoint with its signing secret, shown in full this once.",
  fields: (t) => ({
    endpoint: t.field({
      description: "The new endpoint.",
      type: EndpointType,
      resolve: (created) => created.endpoint,
    }),
    secret: t.exposeString("secret", {
      description:
        "The endpoint's signing secret in full, shown this once (revealEndpointSecret shows it again, audited).",
    }),
  }),
});

const RevealedSecret = builder
  .objectRef<{ secret: string; version: number; createdAt: Date }>("RevealedSecret")
  .implement({
    description: "An endpoint's signing secret, in clear (revealEndpointSecret, audited and rate-limited).",
    fields: (t) => ({
      secret: t.exposeString("secret", {
        description: "The signing secret in full (whsec_...).",
      }),
      version: t.exposeInt("version", {
        description: "The secret's version: 1 at creation, one more at each rotation.",
      }),
      createdAt: t.expose("createdAt", { type: "DateTime" }),
    }),
  });

const RotatedSecret = builder
  .objectRef<{ secret: string; version: number; previousExpiresAt: Date }>("RotatedSecret")
  .implement({
    description: "The new secret, shown once. Until previousExpiresAt deliveries carry signatures for both.",
    fields: (t) => ({
      secret: t.exposeString("secret", {
        description: "The new signing secret in full, shown this once.",
      }),
      version: t.exposeInt("version", {
        description: "The new secret's version.",
      }),
      previousExpiresAt: t.expose("previousExpiresAt", {
        description: "Until then deliveries are signed with both the previous and the new secret.",
        type: "DateTime",
      }),
    }),
  });

/** The JSON scalar accepts anything; headers must be an object, which checkEndpointFields verifies. */
function headersInput(value: unknown): Record<string, unknown> | null | undefined {
  if (value === undefined || value === null) return value as null | undefined;
  if (typeof value !== "object" || Array.isArray(value))
    throw new ValidationError("headers must be an object", "headers");
  return value as Record<string, unknown>;
}

builder.queryField("endpoints", (t) =>
  t.withAuth({ scope: "endpoints:read" }).prismaConnection(
    {
      type: "Endpoint",
      cursor: "id",
      ...pageSize({ defaultSize: 20, maxSize: 100 }),
      description: "The tenant's endpoints, newest first.",
      args: {
        enabled: t.arg.boolean({ required: false, description: "Only enabled (true) or disabled (false) ones." }),
      },
      resolve: (query, _root, args, context) =>
        prisma.endpoint.findMany({
          ...query,
          where: {
            tenantId: context.viewer.tenantId,
            ...(typeof args.enabled === "boolean" ? { enabled: args.enabled } : {}),
          },
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        }),
    },
    { name: "EndpointConnection" },
    { name: "EndpointEdge" },
  ),
);

builder.queryField("endpoint", (t) =>
  t.withAuth({ scope: "endpoints:read" }).field({
    description: "One endpoint of the caller's tenant.",
    type: EndpointType,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id() },
    resolve: (_root, args, context) => findEndpoint(context.viewer.tenantId, localId("Endpoint", args.id)),
  }),
);

builder.mutationField("createEndpoint", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    description:
      "Creates an endpoint; the answer carries its signing secret, shown this once (revealEndpointSecret shows it later).",
    type: CreatedEndpoint,
    errors: { types: [ValidationError, ConflictError] },
    args: { input: t.arg({ type: CreateEndpointInput }) },
    resolve: (_root, { input }, context) =>
      createEndpoint(
        context.viewer.tenantId,
        {
          name: input.name,
          url: input.url,
          description: input.description,
          eventTypes: input.eventTypes ?? undefined,
          headers: headersInput(input.headers),
          timeoutMs: input.timeoutMs ?? undefined,
          retryPolicy: input.retryPolicy ?? undefined,
          verifyTls: input.verifyTls ?? undefined,
          secret: input.secret,
        },
        originOf(context),
        context.services,
      ),
  }),
);

builder.mutationField("updateEndpoint", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    description: "Changes an endpoint: only the fields given in input change.",
    type: EndpointType,
    errors: { types: [ValidationError, ConflictError, NotFoundError] },
    args: { id: t.arg.id(), input: t.arg({ type: UpdateEndpointInput }) },
    resolve: (_root, { id, input }, context) =>
      updateEndpoint(
        context.viewer.tenantId,
        localId("Endpoint", id),
        {
          name: input.name ?? undefined,
          url: input.url ?? undefined,
          description: input.description,
          eventTypes: input.eventTypes ?? undefined,
          headers: headersInput(input.headers),
          timeoutMs: input.timeoutMs ?? undefined,
          retryPolicy: input.retryPolicy,
          verifyTls: input.verifyTls ?? undefined,
        },
        originOf(context),
        context.services,
      ),
  }),
);

builder.mutationField("deleteEndpoint", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    type: EndpointType,
    errors: { types: [NotFoundError] },
    description: "Deletes the endpoint with its deliveries and attempt log.",
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) =>
      deleteEndpoint(context.viewer.tenantId, localId("Endpoint", id), originOf(context)),
  }),
);

builder.mutationField("disableEndpoint", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    type: EndpointType,
    errors: { types: [NotFoundError] },
    description: "Stops deliveries; waiting ones fail with endpoint_disabled and can be recovered later.",
    args: {
      id: t.arg.id(),
      reason: t.arg.string({
        required: false,
        description: "Why, shown as its `disabledReason`; `disabled by a user` when omitted or blank.",
      }),
    },
    resolve: (_root, { id, reason }, context) =>
      disableEndpoint(
        context.viewer.tenantId,
        localId("Endpoint", id),
        reason?.trim() || "disabled by a user",
        originOf(context),
      ),
  }),
);

builder.mutationField("enableEndpoint", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    type: EndpointType,
    errors: { types: [NotFoundError] },
    description: "Resumes deliveries and resets the failure streak that drives auto-disable.",
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) =>
      enableEndpoint(context.viewer.tenantId, localId("Endpoint", id), originOf(context)),
  }),
);

builder.mutationField("revealEndpointSecret", (t) =>
  t.withAuth({ scope: "secrets:reveal" }).field({
    type: RevealedSecret,
    errors: { types: [NotFoundError, RateLimitedError] },
    description: "Shows the current signing secret. Audited; at most 10 a minute.",
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) =>
      revealEndpointSecret(
        context.viewer.tenantId,
        localId("Endpoint", id),
        originOf(context),
        context.services.keyring,
      ),
  }),
);

const RevealedHeaders = builder.objectRef<{ headers: Record<string, string> }>("RevealedEndpointHeaders").implement({
  description: "An endpoint's custom header values, in clear (revealEndpointHeaders, audited).",
  fields: (t) => ({
    headers: t.field({ type: "JSON", description: "Header names to their values.", resolve: (r) => r.headers }),
  }),
});

builder.mutationField("revealEndpointHeaders", (t) =>
  t.withAuth({ scope: "secrets:reveal" }).field({
    type: RevealedHeaders,
    errors: { types: [NotFoundError, RateLimitedError] },
    description: "Shows the custom header values in full. Audited; shares revealEndpointSecret's limit of 10 a minute.",
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) =>
      revealEndpointHeaders(
        context.viewer.tenantId,
        localId("Endpoint", id),
        originOf(context),
        context.services.keyring,
      ),
  }),
);

const RevealedUrl = builder.objectRef<{ url: string }>("RevealedEndpointUrl").implement({
  description: "An endpoint's URL with its query parameter values in clear (revealEndpointUrl, audited).",
  fields: (t) => ({
    url: t.exposeString("url", { description: "The URL deliveries are sent to, in full." }),
  }),
});

builder.mutationField("revealEndpointUrl", (t) =>
  t.withAuth({ scope: "secrets:reveal" }).field({
    type: RevealedUrl,
    errors: { types: [NotFoundError, RateLimitedError] },
    description:
      "Shows the endpoint's URL with its query parameter values. Audited; shares revealEndpointSecret's limit of 10 a minute.",
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) =>
      revealEndpointUrl(context.viewer.tenantId, localId("Endpoint", id), originOf(context)),
  }),
);

builder.mutationField("rotateEndpointSecret", (t) =>
  t.withAuth({ scope: "endpoints:write" }).field({
    type: RotatedSecret,
    errors: { types: [ValidationError, NotFoundError] },
    description: "Makes a new signing secret; the old one keeps signing too until the grace period ends.",
    args: {
      id: t.arg.id(),
      gracePeriodSeconds: t.arg.int({ defaultValue: 86_400, description: "0 to 604800 (7 days); 24 h by default." }),
      secret: t.arg.string({ required: false, description: "A whsec_ secret to use instead of a generated one." }),
    },
    resolve: (_root, args, context) =>
      rotateEndpointSecret(
        context.viewer.tenantId,
        localId("Endpoint", args.id),
        { gracePeriodSeconds: args.gracePeriodSeconds, secret: args.secret },
        originOf(context),
        context.services.keyring,
      ),
  }),
);
