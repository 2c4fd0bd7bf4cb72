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
