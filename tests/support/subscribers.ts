import type { ExecutionResult } from "graphql";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import type { Topics } from "../../src/db/pubsub.js";
import { testServices } from "./graphql.js";
import { until } from "./wait.js";

/**
 * Waits until `count` subscriptions of this process listen to `topic` for `id`: an event published from then on
 * reaches them. For subscriptions held on an API server in this process (startLiveApiServer, startSubscriptions); a
 * subscription only attaches after its WebSocket message has been handled, so sending at once would race it.
 */
export function subscribersJoined<Topic extends keyof Topics>(
  topic: Topic,
  id: Topics[Topic][0],
  count = 1,
): Promise<number> {
  return until(
    async () => testServices.subscriptions?.subscriberCount(topic, id) ?? 0,
    (n) => n >= count,
    `${count} ${topic} subscriber(s) for ${id}`,
  );
}

/**
 * One graphql-ws client (its own socket, as a separate integrator would have) holding one subscription with a
 * bearer token; each result and each error goes to `on`. No retries, so a refused or closed socket shows as an error.
 */
export function subscribeOnOwnSocket<T>(
  url: string,
  token: string,
  request: { query: string; variables?: Record<string, unknown> },
  on: { result(result: ExecutionResult<T>): void; error(error: unknown): void },
): Client {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  client.subscribe<T>(request, {
    next: (result) => on.result(result as ExecutionResult<T>),
    error: on.error,
    complete: () => undefined,
  });
  return client;
}
