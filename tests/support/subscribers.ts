import { localSubscriberCount, type Topics } from "../../src/db/pubsub.js";
import { until } from "./wait.js";

/**
 * Waits until `count` subscriptions of this process listen to `topic` for `id`: an event published from then on
 * reaches them. For subscriptions held on an API server in this process (startApiServer and friends); a
 * subscription only attaches after its WebSocket message has been handled, so sending at once would race it.
 */
export function subscribersJoined<Topic extends keyof Topics>(
  topic: Topic,
  id: Topics[Topic][0],
  count = 1,
): Promise<number> {
  return until(
    async () => localSubscriberCount(topic, id),
    (n) => n >= count,
    `${count} ${topic} subscriber(s) for ${id}`,
  );
}
