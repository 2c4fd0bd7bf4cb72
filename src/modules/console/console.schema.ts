import { builder } from "../../builder.js";
import { subscriptionError, withSubscriptionErrors } from "../../graphql/context.js";
import { ValidationError } from "../../lib/errors.js";
import { toOptionalGlobalId } from "../../lib/ids.js";
import { withMaskedUrl } from "../../lib/url-credentials.js";
import { type ConsoleEventRow, type Cursor, cursorOf, decodeCursor, encodeCursor } from "./console-events.js";
import type { ConsoleFeed } from "./console-feed.js";
import { describeConsoleEvent } from "./describe.js";

declare module "../../graphql/context.js" {
  interface ContextServices {
    /** The console's live feed: API processes have one (src/app-context.ts starts it). */
    consoleFeed?: ConsoleFeed;
  }
}

const MAX_LAST = 500;

const ConsoleEventKindEnum = builder.enumType("ConsoleEventKind", {
  description: "What a console event records; `data` holds the details of each kind.",
  values: {
    ATTEMPT_SUCCEEDED: { description: "A delivery attempt got a 2xx." },
    ATTEMPT_FAILED: { description: "A manual attempt failed; the delivery keeps its state." },
    RETRY_SCHEDULED: { description: "An attempt failed and the next one is scheduled (data.nextAttemptAt)." },
    DELIVERY_DEAD: { description: "An attempt failed and the delivery is dead-lettered (data.reason)." },
    TEST_SENT: { description: "A test event was sent to an endpoint (data.statusCode, data.succeeded)." },
    ENDPOINT_DISABLED: { description: "By a person, or automatically (data.reason)." },
    ENDPOINT_ENABLED: { description: "An endpoint was enabled again (enableEndpoint)." },
    API_KEY_USED: { description: "An API key authenticated a request (at most once per key per 10 s)." },
    API_KEY_CREATED: { description: "An API key was created (data.name)." },
    API_KEY_REVOKED: { description: "An API key was revoked (data.name)." },
    SECRET_REVEALED: { description: "An endpoint's or agent's secret was revealed (data.target)." },
    SECRET_REGENERATED: { description: "An endpoint's secret was rotated or an agent's regenerated (data.target)." },
    INBOUND_ACCEPTED: { description: "An agent accepted a webhook and queued an execution." },
    INBOUND_REJECTED: { description: "An agent refused a webhook (data.status, data.code)." },
    EXECUTION_UPDATED: { description: "An agent execution changed status (data.status)." },
  } as const,
});

const ConsoleEventType = builder.objectRef<ConsoleEventRow>("ConsoleEvent").implement({
  description: "One entry of the tenant's integration console.",
  fields: (t) => ({
    cursor: t.string({
      description: "Grows with every event; subscribe with `after` set to the last one received to resume.",
      resolve: (event) => encodeCursor(cursorOf(event)),
    }),
    kind: t.field({
      type: ConsoleEventKindEnum,
      description: "What happened; it decides what `data` holds.",
      resolve: (event) => event.kind,
    }),
    at: t.field({
      type: "DateTime",
      description: "When it happened (ISO 8601, UTC).",
      resolve: (event) => event.createdAt,
    }),
    message: t.string({ description: "One readable line about it.", resolve: describeConsoleEvent }),
    endpointId: t.id({
      nullable: true,
      description: "The endpoint it concerns; null when it concerns none.",
      resolve: (event) => toOptionalGlobalId("Endpoint", event.endpointId),
    }),
    deliveryId: t.id({
      nullable: true,
      description: "The delivery it concerns; null when it concerns none.",
      resolve: (event) => toOptionalGlobalId("Delivery", event.deliveryId),
    }),
    agentId: t.id({
      nullable: true,
      description: "The agent it concerns; null when it concerns none.",
      resolve: (event) => toOptionalGlobalId("Agent", event.agentId),
    }),
    executionId: t.id({
      nullable: true,
      description: "The agent execution it concerns; null when it concerns none.",
      resolve: (event) => toOptionalGlobalId("AgentExecution", event.executionId),
    }),
    apiKeyId: t.id({
      nullable: true,
      description: "The API key it concerns; null when it concerns none.",
      resolve: (event) => toOptionalGlobalId("ApiKey", event.apiKeyId),
    }),
    data: t.field({
      type: "JSON",
      description: "The details, by kind. An endpoint URL (data.url) has its credentials masked, as Endpoint.url.",
      resolve: (event) => withMaskedUrl(event.data),
    }),
  }),
});

builder.subscriptionField("consoleEvents", (t) =>
  t.withAuth({ scope: "console:read" }).field({
    type: ConsoleEventType,
    description:
      "The tenant's integration console, live. With `after` (a cursor you received), first everything since then " +
      "(kept for the console retention period), then live, with no gap and no repeat. With `last` and no `after`, " +
      `the last ${MAX_LAST} at most, then live.`,
    args: {
      after: t.arg.string({
        required: false,
        description: "The cursor of the last event received: everything since then comes first, then live ones.",
      }),
      last: t.arg.int({
        required: false,
        description: `Without \`after\`: replay the last this many (1 to ${MAX_LAST}) first; only live ones when omitted.`,
      }),
    },
    subscribe: (_root, args, context) => {
      const { tenantId } = context.viewer;
      let after: Cursor | undefined;
      try {
        after = args.after ? decodeCursor(args.after, "after") : undefined;
        if (args.last != null && (args.last < 1 || args.last > MAX_LAST))
          throw new ValidationError(`last must be between 1 and ${MAX_LAST}`, "last");
      } catch (error) {
        if (error instanceof ValidationError) throw subscriptionError(error);
        throw error;
      }
      const feed = context.services.consoleFeed;
      if (!feed) throw new Error("the console feed is not started");
      return withSubscriptionErrors(feed.subscribe(tenantId, { after, last: args.last ?? undefined }));
    },
    resolve: (event) => event,
  }),
);
