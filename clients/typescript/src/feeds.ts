import {
  AgentWebhookReceivedDocument,
  type AgentWebhookReceivedSubscription,
  ConsoleEventsDocument,
  type ConsoleEventsSubscription,
  EventPublishedDocument,
  type EventPublishedSubscription,
} from "../generated/graphql.js";
import type { LiveOptions, SignalpostClient } from "./client.js";

export type ConsoleEvent = ConsoleEventsSubscription["consoleEvents"];
export type RelayedWebhook = AgentWebhookReceivedSubscription["agentWebhookReceived"];
export type OutboundEvent = EventPublishedSubscription["eventPublished"];

/**
 * The tenant's integration console, live, resuming after any reconnect from the last cursor seen. Pass `after`
 * (a cursor you stored) to catch up from there, or `last` to start with the most recent events.
 */
export async function* consoleEvents(
  client: SignalpostClient,
  start: { after?: string; last?: number } = {},
  options: Omit<LiveOptions<ConsoleEventsSubscription>, "resume"> = {},
): AsyncGenerator<ConsoleEvent> {
  const results = client.live(
    ConsoleEventsDocument,
    { after: start.after ?? null, last: start.last ?? null },
    {
      ...options,
      resume: { variable: "after", cursorOf: (data) => data.consoleEvents.cursor },
    },
  );
  for await (const data of results) yield data.consoleEvents;
}

/** An agent's relayed webhooks (its `relay` action), resuming after a reconnect from the last execution seen. */
export async function* relayedWebhooks(
  client: SignalpostClient,
  agentId: string,
  start: { after?: string } = {},
  options: Omit<LiveOptions<AgentWebhookReceivedSubscription>, "resume"> = {},
): AsyncGenerator<RelayedWebhook> {
  const results = client.live(
    AgentWebhookReceivedDocument,
    { agentId, after: start.after ?? null },
    {
      ...options,
      resume: { variable: "after", cursorOf: (data) => data.agentWebhookReceived.executionId },
    },
  );
  for await (const data of results) yield data.agentWebhookReceived;
}

/**
 * The tenant's events as they are published, each with the exact body its deliveries carry (what `signalpost listen
 * --forward-to` signs and re-posts). Reconnects after a network loss; events published while disconnected are not
 * replayed (see `events` / `deliveries` queries for history).
 */
export async function* publishedEvents(
  client: SignalpostClient,
  filter: { eventTypes?: string[] } = {},
  options: Omit<LiveOptions<EventPublishedSubscription>, "resume"> = {},
): AsyncGenerator<OutboundEvent> {
  const results = client.live(EventPublishedDocument, { eventTypes: filter.eventTypes ?? null }, options);
  for await (const data of results) yield data.eventPublished;
}
