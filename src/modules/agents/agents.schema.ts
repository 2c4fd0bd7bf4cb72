import { builder } from "../../builder.js";
import { requireForNotice } from "../../db/notice-reads.js";
import { prisma } from "../../db/prisma.js";
import { UNKNOWN_SECRET_MASK } from "../../db/secret-masks.js";
import type { Agent, AgentExecution } from "../../generated/prisma/client.js";
import { originOf, subscriptionError, subscriptionsOf, withSubscriptionErrors } from "../../graphql/context.js";
import { pageSize } from "../../graphql/pagination.js";
import { ConflictError, NotFoundError, RateLimitedError, ValidationError } from "../../lib/errors.js";
import { idFilter, localId, toGlobalId } from "../../lib/ids.js";
import { exampleFromSchema } from "../../lib/schema-example.js";
import { EXECUTION_RETRY_LIMIT } from "./acceptance.js";
import { actionsForApi, actionsFromApi, executionResultForApi } from "./agent-config.js";
import {
  createAgent,
  deleteAgent,
  findAgent,
  regenerateAgentSecret,
  revealAgentSecret,
  sendTestWebhook,
  updateAgent,
} from "./agents.service.js";
import { EXAMPLE_PAYLOAD_SCHEMAS } from "./example-schemas.js";
import { findExecution, relayedSince } from "./executions.service.js";
import { SENDER_SENDS, type VerificationScheme } from "./verification-schemes.js";

const AgentStatusEnum = builder.enumType("AgentStatus", {
  description: "Whether an agent's webhook URL accepts requests.",
  values: {
    DRAFT: { description: "Being set up: its URL answers 403." },
    ACTIVE: { description: "Accepting webhooks." },
    SUSPENDED: { description: "Paused: its URL answers 403." },
    INACTIVE: { description: "Retired: its URL answers 403." },
  } as const,
});
const ExecutionStatusEnum = builder.enumType("ExecutionStatus", {
  description: "Where an agent execution is in its run.",
  values: {
    QUEUED: { description: "Accepted and waiting for a worker (also between retries)." },
    RUNNING: { description: "A worker is running the agent's actions." },
    SUCCEEDED: { description: "Every action ran; see result." },
    FAILED: { description: "An action failed and no retry is left; see error." },
  } as const,
});

const VerificationSchemeEnum = builder.enumType("VerificationScheme", {
  description: "How an agent verifies that a request comes from its sender: each sender's own documented algorithm.",
  values: {
    STANDARD_WEBHOOKS: {
      description: `Standard Webhooks (Svix and others; the default): ${SENDER_SENDS.STANDARD_WEBHOOKS}. Replays are refused by webhook-id.`,
    },
    GITHUB: {
      description: `GitHub: ${SENDER_SENDS.GITHUB}. An exact repeat is refused by X-GitHub-Delivery for 3 days; GitHub signs only the body, so a captured request can be sent again under a new delivery id.`,
    },
    HMAC_SHA256: {
      description: `A generic HMAC sender (Jira-style, in-house): ${SENDER_SENDS.HMAC_SHA256}. Weaker than a timestamped scheme: a captured request can be replayed after 15 minutes.`,
    },
    STRIPE: { description: `Stripe: ${SENDER_SENDS.STRIPE}. Set the endpoint's whsec_ secret as the agent's secret.` },
    SHOPIFY: {
      description: `Shopify: ${SENDER_SENDS.SHOPIFY}. Set the app's client secret as the agent's secret; an exact repeat is refused by webhook id for 3 days (Shopify signs only the body, as GitHub does).`,
    },
    SLACK: { description: `Slack: ${SENDER_SENDS.SLACK}. Set the app's signing secret as the agent's secret.` },
  } as const,
});

const AgentVerification = builder.objectRef<{ scheme: VerificationScheme }>("AgentVerification").implement({
  description: "How the agent verifies its sender's requests.",
  fields: (t) => ({
    scheme: t.field({
      type: VerificationSchemeEnum,
      description: "The algorithm the agent checks requests with.",
      resolve: (verification) => verification.scheme,
    }),
    senderSends: t.string({
      description: "What the sender must send for a request to be accepted: the headers and what they sign.",
      resolve: (verification) => SENDER_SENDS[verification.scheme],
    }),
  }),
});

const AgentVerificationInput = builder.inputType("AgentVerificationInput", {
  description: "How the agent verifies its sender; changing it is audited.",
  fields: (t) => ({
    scheme: t.field({ type: VerificationSchemeEnum, required: true, description: "Its sender's scheme." }),
    secret: t.string({
      required: false,
      description:
        "The sender's own signing secret, when the sender makes it (Stripe, Shopify, Slack; or one chosen for GitHub): 8 to 256 printable ASCII characters. It replaces the agent's secret at once (audited). Without it the agent keeps its secret (a new agent gets a generated one).",
    }),
  }),
});

const AgentObject = builder.prismaNode("Agent", {
  id: { field: "id" },
  description: "Receives webhooks at its own URL, verifies and validates them, and runs its actions.",
  fields: (t) => ({
    name: t.exposeString("name", {
      description: "The agent's name, unique in the tenant.",
    }),
    description: t.exposeString("description", {
      description: "What the agent is for; null when not given.",
      nullable: true,
    }),
    status: t.expose("status", {
      description: "Whether the webhook URL accepts requests (only ACTIVE does).",
      type: AgentStatusEnum,
    }),
    webhookUrl: t.string({
      description: "Where senders POST webhooks for this agent, built from the instance's public URL.",
      resolve: (agent, _args, context) =>
        `${context.services.urls.publicUrl()}/agents/${toGlobalId("Agent", agent.id)}/webhook`,
    }),
    // Stored with the secret: listing agents decrypts nothing.
    maskedSecret: t.string({
      description: "The agent's signing secret, masked; revealAgentSecret shows it in full.",
      resolve: (agent) => agent.maskedSecret ?? UNKNOWN_SECRET_MASK,
    }),
    payloadSchema: t.expose("payloadSchema", {
      description: "The JSON Schema an accepted payload must satisfy (400 otherwise); null accepts any JSON.",
      type: "JSON",
      nullable: true,
    }),
    transform: t.exposeString("transform", {
      nullable: true,
      description: "A JSONata expression applied to the payload.",
    }),
    actions: t.field({
      type: "JSON",
      resolve: (agent) => actionsForApi(agent.actions),
      description:
        'The actions run for each accepted webhook, in order, e.g. [{ "type": "emitEvent", "eventType": "ticket.created" }].',
    }),
    rateLimitPerMinute: t.exposeInt("rateLimitPerMinute", {
      description: "Verified requests accepted per minute; more answer 429.",
    }),
    examplePayload: t.field({
      type: "JSON",
      description:
        "A payload built from the payload schema (its examples, defaults and types), to start a test webhook from; {} without a schema. It may not satisfy every constraint (a pattern, say): the test answers which.",
      resolve: (agent) => exampleFromSchema(agent.payloadSchema ?? {}) ?? {},
    }),
    previousSecretExpiresAt: t.field({
      type: "DateTime",
      nullable: true,
      description:
        "When the secret before the last regeneration stops verifying (regenerateAgentSecret's gracePeriodSeconds); null when only the current one verifies.",
      resolve: (agent) =>
        agent.previousSecretExpiresAt && agent.previousSecretExpiresAt.getTime() > Date.now()
          ? agent.previousSecretExpiresAt
          : null,
    }),
    verification: t.field({
      type: AgentVerification,
      description: "How the agent verifies its sender's requests.",
      resolve: (agent) => ({ scheme: agent.verificationScheme }),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

builder.prismaNode("AgentExecution", {
  id: { field: "id" },
  description: "One accepted inbound request and the run of its agent's actions.",
  fields: (t) => ({
    status: t.expose("status", {
      type: ExecutionStatusEnum,
      description: "Where the run is: queued, running or done.",
    }),
    payload: t.expose("payload", {
      type: "JSON",
      description: "The request's JSON body as received and validated, before the agent's transform.",
    }),
    headers: t.expose("headers", {
      type: "JSON",
      description:
        "The request headers kept, names (lower case) to values: content-type, user-agent, webhook-id, webhook-timestamp, the GitHub event and delivery ids, Shopify's topic, webhook id and shop domain, Slack's timestamp and retry number, x-request-id, the ones a forward action copies and, for a relaying agent, the signature. Never credentials.",
    }),
    sourceIp: t.exposeString("sourceIp", {
      nullable: true,
      description: "The address the request came from (the TCP peer); null when it was not known.",
    }),
    receivedAt: t.expose("receivedAt", { type: "DateTime", description: "When the request was accepted." }),
    startedAt: t.expose("startedAt", {
      type: "DateTime",
      nullable: true,
      description: "When a worker last started running it; null while it has not started.",
    }),
    finishedAt: t.expose("finishedAt", {
      type: "DateTime",
      nullable: true,
      description: "When it reached SUCCEEDED or FAILED; null until then.",
    }),
    attempts: t.exposeInt("attempts", {
      description: `How many times a worker started running it: at most ${EXECUTION_RETRY_LIMIT + 1} (${EXECUTION_RETRY_LIMIT} retries).`,
    }),
    result: t.field({
      type: "JSON",
      nullable: true,
      description:
        "Once SUCCEEDED: `{ payload, actions }`, the payload after the transform and what each action did (the event it published and how many deliveries it made); null before.",
      resolve: (execution) => executionResultForApi(execution.result),
    }),
    error: t.exposeString("error", {
      nullable: true,
      description: "Why the latest run failed, at most 2000 characters; null while running and after a success.",
    }),
    agent: t.relation("agent", { description: "The agent that received the request." }),
  }),
});

const AgentInput = (name: string, required: boolean) =>
  builder.inputType(name, {
    description: required
      ? "A new agent: its name, payload schema, transform, actions and rate limit."
      : "Changes to an agent: only the fields given are changed.",
    fields: (t) => ({
      name: t.string({ required, description: "1 to 100 characters, unique in the tenant." }),
      description: t.string({
        required: false,
        description: "What the agent is for, at most 1000 characters; null or an empty string clears it.",
      }),
      status: t.field({ type: AgentStatusEnum, required: false, description: "DRAFT when created without one." }),
      payloadSchema: t.field({
        type: "JSON",
        required: false,
        description: "JSON Schema (draft 2020-12), checked on save.",
      }),
      transform: t.string({ required: false, description: "JSONata, checked on save, run with a time limit." }),
      actions: t.field({
        type: "JSON",
        required: false,
        description:
          'At most 20, run in order for each accepted webhook: `{ "type": "emitEvent", "eventType" }`, `{ "type": "forward", "endpointId", "headers": [names to copy, at most 20] }` or `{ "type": "relay" }`.',
      }),
      rateLimitPerMinute: t.int({
        required: false,
        description: "Accepted requests a minute; by default the tenant's default (settings; 100 unless changed).",
      }),
      verification: t.field({
        type: AgentVerificationInput,
        required: false,
        description: required
          ? "STANDARD_WEBHOOKS with a generated secret when not given."
          : "Unchanged when not given.",
      }),
    }),
  });
const CreateAgentInput = AgentInput("CreateAgentInput", true);
const UpdateAgentInput = AgentInput("UpdateAgentInput", false);

const CreatedAgent = builder.objectRef<{ agent: Agent; secret: string }>("CreatedAgent").implement({
  description: "A new agent with its HMAC secret, shown in full this once.",
  fields: (t) => ({
    // Already read by createAgent: a plain field (a prismaField's query would go unused, and Pothos warns of it).
    agent: t.field({
      description: "The new agent.",
      type: AgentObject,
      resolve: (created) => created.agent,
    }),
    secret: t.exposeString("secret", {
      description: "The agent's signing secret in full, shown this once (revealAgentSecret shows it again, audited).",
    }),
  }),
});

const ExampleSchema = builder.objectRef<(typeof EXAMPLE_PAYLOAD_SCHEMAS)[number]>("ExamplePayloadSchema").implement({
  description: "A ready-made payload schema for a known webhook sender, to start an agent from.",
  fields: (t) => ({
    name: t.exposeString("name", { description: "The sender and the payload it describes, e.g. a Jira issue event." }),
    description: t.exposeString("description", { description: "What payloads the schema accepts." }),
    schema: t.field({
      type: "JSON",
      description: "The JSON Schema, ready to set as an agent's payloadSchema.",
      resolve: (example) => example.schema,
    }),
  }),
});

const TestWebhookResult = builder
  .objectRef<{ statusCode: number; body: unknown; executionId: string | null }>("TestWebhookResult")
  .implement({
    description: "What an agent's webhook URL answered to a test request sent through the API.",
    fields: (t) => ({
      statusCode: t.exposeInt("statusCode", {
        description: "The HTTP status the URL answered: 202 when accepted, 4xx when refused.",
      }),
      body: t.field({
        type: "JSON",
        description: "The URL's JSON answer: the execution id when accepted, the refusal's code and message otherwise.",
        resolve: (result) => result.body,
      }),
      executionId: t.exposeString("executionId", {
        nullable: true,
        description: "The id of the AgentExecution the request started; null when it was refused.",
      }),
    }),
  });

function fields(input: Record<string, unknown>) {
  const present = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
  return {
    ...present,
    ...(input.actions !== undefined ? { actions: actionsFromApi(input.actions) } : {}),
    description: input.description as string | null | undefined,
    transform: input.transform as string | null | undefined,
  };
}

builder.queryField("agents", (t) =>
  t.withAuth({ scope: "agents:read" }).prismaConnection(
    {
      description: "The caller's agents, newest first.",
      type: "Agent",
      cursor: "id",
      ...pageSize({ defaultSize: 20, maxSize: 100 }),
      resolve: (query, _root, _args, context) =>
        prisma.agent.findMany({
          ...query,
          where: { tenantId: context.viewer.tenantId },
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        }),
    },
    { name: "AgentConnection" },
    { name: "AgentEdge" },
  ),
);

builder.queryField("agent", (t) =>
  t.withAuth({ scope: "agents:read" }).prismaField({
    description: "One agent of the caller's tenant.",
    type: "Agent",
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id() },
    resolve: (query, _root, { id }, context) => findAgent(context.viewer.tenantId, localId("Agent", id), prisma, query),
  }),
);

builder.queryField("agentExecutions", (t) =>
  t.withAuth({ scope: "agents:read" }).prismaConnection(
    {
      type: "AgentExecution",
      cursor: "id",
      ...pageSize({ defaultSize: 20, maxSize: 100 }),
      description: "Executions, newest first.",
      args: {
        agentId: t.arg.id({ required: false, description: "Only this agent's executions." }),
        status: t.arg({ type: ExecutionStatusEnum, required: false, description: "Only executions in this status." }),
      },
      resolve: (query, _root, args, context) => {
        return prisma.agentExecution.findMany({
          ...query,
          where: {
            tenantId: context.viewer.tenantId,
            ...(args.agentId ? { agentId: idFilter(localId("Agent", args.agentId)) } : {}),
            ...(args.status ? { status: args.status } : {}),
          },
          orderBy: [{ receivedAt: "desc" }, { id: "desc" }],
        });
      },
    },
    { name: "AgentExecutionConnection" },
    { name: "AgentExecutionEdge" },
  ),
);

builder.queryField("agentExecution", (t) =>
  t.withAuth({ scope: "agents:read" }).prismaField({
    description: "One execution of one of the caller's agents.",
    type: "AgentExecution",
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id() },
    resolve: (query, _root, { id }, context) =>
      findExecution(context.viewer.tenantId, localId("AgentExecution", id), prisma, query),
  }),
);

builder.queryField("examplePayloadSchemas", (t) =>
  t.withAuth({ scope: "agents:read" }).field({
    type: [ExampleSchema],
    description: "Ready payload schemas (ServiceDesk Plus, Jira, generic) for agent editors.",
    resolve: () => [...EXAMPLE_PAYLOAD_SCHEMAS],
  }),
);

builder.mutationField("createAgent", (t) =>
  t.withAuth({ scope: "agents:write" }).field({
    description: "Creates an agent with its own webhook URL; the answer carries its signing secret, shown this once.",
    type: CreatedAgent,
    errors: { types: [ValidationError, ConflictError] },
    args: { input: t.arg({ type: CreateAgentInput }) },
    resolve: (_root, { input }, context) =>
      createAgent(
        context.viewer.tenantId,
        { ...fields(input), name: input.name as string },
        originOf(context),
        context.services.keyring,
      ),
  }),
);

// The write returns the row it wrote; a prismaField would plan a query that no write runs (Agent has no relations to
// preload), and the tests fail on an unused query.
builder.mutationField("updateAgent", (t) =>
  t.withAuth({ scope: "agents:write" }).field({
    description: "Changes an agent: only the fields given in input change.",
    type: AgentObject,
    errors: { types: [ValidationError, ConflictError, NotFoundError] },
    args: { id: t.arg.id(), input: t.arg({ type: UpdateAgentInput }) },
    resolve: (_root, { id, input }, context) =>
      updateAgent(
        context.viewer.tenantId,
        localId("Agent", id),
        { ...fields(input), name: input.name ?? undefined },
        originOf(context),
        context.services.keyring,
      ),
  }),
);

builder.mutationField("deleteAgent", (t) =>
  t.withAuth({ scope: "agents:write" }).field({
    description: "Deletes an agent: its webhook URL answers 404 from then on.",
    type: AgentObject,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id() },
    resolve: (_root, { id }, context) => deleteAgent(context.viewer.tenantId, localId("Agent", id), originOf(context)),
  }),
);

const AgentSecret = builder.objectRef<{ secret: string }>("AgentSecret").implement({
  description: "An agent's signing secret, in clear: shown by revealAgentSecret (audited) and never listed elsewhere.",
  fields: (t) => ({ secret: t.exposeString("secret", { description: "The signing secret in full." }) }),
});

builder.mutationField("revealAgentSecret", (t) =>
  t.withAuth({ scope: "secrets:reveal" }).field({
    type: AgentSecret,
    errors: { types: [NotFoundError, RateLimitedError] },
    description: "Shows the agent's HMAC secret. Audited with actor and IP; at most 10 a minute.",
    args: { id: t.arg.id() },
    resolve: async (_root, { id }, context) => ({
      secret: await revealAgentSecret(
        context.viewer.tenantId,
        localId("Agent", id),
        originOf(context),
        context.services.keyring,
      ),
    }),
  }),
);

builder.mutationField("regenerateAgentSecret", (t) =>
  t.withAuth({ scope: "agents:write" }).field({
    type: CreatedAgent,
    errors: { types: [ValidationError, NotFoundError] },
    description:
      "Replaces the secret. The old one stops working at once, or keeps verifying too for gracePeriodSeconds so the sender can switch without a refused request. The new one is shown this once.",
    args: {
      id: t.arg.id(),
      gracePeriodSeconds: t.arg.int({
        defaultValue: 0,
        description: "How long the old secret keeps verifying: 0 (at once, the default) to 604800 (7 days).",
      }),
    },
    resolve: (_root, { id, gracePeriodSeconds }, context) =>
      regenerateAgentSecret(
        context.viewer.tenantId,
        localId("Agent", id),
        originOf(context),
        context.services.keyring,
        gracePeriodSeconds ?? 0,
      ),
  }),
);

builder.mutationField("sendTestWebhook", (t) =>
  t.withAuth({ scope: "agents:write" }).field({
    type: TestWebhookResult,
    errors: { types: [NotFoundError] },
    description:
      "Signs the payload with the agent's secret, POSTs it through the agent's own URL and returns the answer.",
    args: {
      agentId: t.arg.id({ description: "The agent whose URL to send to." }),
      payload: t.arg({ type: "JSON", description: "The JSON body to send, checked like any inbound request's." }),
    },
    resolve: (_root, args, context) =>
      sendTestWebhook(context.viewer.tenantId, localId("Agent", args.agentId), args.payload, context.services),
  }),
);

/** Subscriptions have no typed results: another tenant's (or no) agent is a NOT_FOUND GraphQL error naming agentId. */
async function subscribableAgent(tenantId: string, agentId: string): Promise<void> {
  try {
    await findAgent(tenantId, agentId);
  } catch (error) {
    if (error instanceof NotFoundError) throw subscriptionError(new NotFoundError("No agent with that id", "agentId"));
    throw error;
  }
}

interface RelayedWebhook {
  executionId: string;
  agentId: string;
  receivedAt: Date;
  headers: unknown;
  body: string;
  payload: unknown;
}

const RelayedWebhookType = builder.objectRef<RelayedWebhook>("RelayedWebhook").implement({
  description: "An inbound request relayed live: its body exactly as received and the headers kept with it.",
  fields: (t) => ({
    executionId: t.id({
      description: "The AgentExecution the request started; pass it as `after` to resume from here.",
      resolve: (relayed) => toGlobalId("AgentExecution", relayed.executionId),
    }),
    agentId: t.id({
      description: "The agent that received it.",
      resolve: (relayed) => toGlobalId("Agent", relayed.agentId),
    }),
    receivedAt: t.expose("receivedAt", { type: "DateTime", description: "When the request was accepted." }),
    headers: t.expose("headers", {
      type: "JSON",
      description: "The headers kept with it, names (lower case) to values, its signature headers included.",
    }),
    body: t.exposeString("body", { description: "The request body byte for byte, for checking its signature." }),
    payload: t.expose("payload", { type: "JSON", description: "The body parsed as JSON." }),
  }),
});

builder.subscriptionField("agentWebhookReceived", (t) =>
  t.withAuth({ scope: "agents:read" }).field({
    type: RelayedWebhookType,
    description:
      "Requests accepted by an agent with a relay action, as they arrive (from any instance). With `after` (the " +
      "executionId of the last one you handled), first the requests relayed since then, then live ones; each once.",
    args: {
      agentId: t.arg.id({ description: "The agent whose requests to receive." }),
      after: t.arg.id({
        required: false,
        description:
          "The executionId of the last request handled: those relayed since come first. Live ones only when omitted.",
      }),
    },
    subscribe: async (_root, args, context) => {
      const { tenantId } = context.viewer;
      const agentId = localId("Agent", args.agentId);
      const after = args.after ? localId("AgentExecution", args.after) : null;
      await subscribableAgent(tenantId, agentId);
      const live = subscriptionsOf(context).subscribe("agent:webhook", agentId);
      if (!after) return live;
      return withSubscriptionErrors(relayedSince(tenantId, agentId, after, live), live);
    },
    resolve: async (notice, _args, context) => {
      const { executionId } = notice;
      const execution = await requireForNotice<AgentExecution>(
        notice,
        { model: "agentExecution", tenantId: context.viewer.tenantId, id: executionId },
        "execution",
      );
      return {
        executionId,
        agentId: execution.agentId,
        receivedAt: execution.receivedAt,
        headers: execution.headers,
        body: execution.rawBody,
        payload: execution.payload,
      };
    },
  }),
);

builder.subscriptionField("agentExecutionUpdated", (t) =>
  t.withAuth({ scope: "agents:read" }).prismaField({
    type: "AgentExecution",
    description: "An agent's executions as their status changes (RUNNING, SUCCEEDED, QUEUED for a retry, FAILED).",
    args: { agentId: t.arg.id({ description: "The agent whose executions to follow." }) },
    subscribe: async (_root, args, context) => {
      const agentId = localId("Agent", args.agentId);
      await subscribableAgent(context.viewer.tenantId, agentId);
      return subscriptionsOf(context).subscribe("agent:execution", agentId);
    },
    resolve: async (query, notice, _args, context) => ({
      ...(await requireForNotice<AgentExecution>(
        notice,
        { model: "agentExecution", tenantId: context.viewer.tenantId, id: notice.executionId, selection: query },
        "execution",
      )),
      // The status of the change announced, not whatever the row says by the time this is read.
      status: notice.status,
    }),
  }),
);
