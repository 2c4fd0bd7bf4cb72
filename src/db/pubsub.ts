import { boundedFeed, DEFAULT_MAX_SUBSCRIPTIONS, TooManySubscriptionsError } from "../lib/bounded-feed.js";
import type { Logger } from "../logger.js";
import { ChannelListener } from "./listen.js";
import { shareNoticeReads } from "./notice-reads.js";
import { notifySoon } from "./notify.js";

/** The NOTIFY channel that carries subscription events between processes. */
export const PUBSUB_CHANNEL = "signalpost_pubsub";
/** NOTIFY payloads must stay under 8000 bytes: events carry ids, and resolvers read the rest back. */
const MAX_NOTIFY_BYTES = 7_900;

/** Topics and what each carries. */
/** One delivery's new state, as deliveryUpdated subscribers receive it. */
export interface DeliveryChange {
  deliveryId: string;
  endpointId: string;
  eventId: string;
  status: string;
}

/** An endpoint's health state moved (HEALTHY, FAILING, DISABLED). */
export interface HealthChange {
  endpointId: string;
  tenantId: string;
  state: "HEALTHY" | "FAILING" | "DISABLED";
  previousState: "HEALTHY" | "FAILING" | "DISABLED";
}

/** An event was published (not a duplicate): what eventPublished subscribers (`signalpost listen`) are told. */
export interface EventPublishedNotice {
  eventId: string;
  eventType: string;
}

export type Topics = {
  "event:published": [tenantId: string, payload: EventPublishedNotice];
  "endpoint:health": [tenantId: string, payload: HealthChange];
  "delivery:updated": [tenantId: string, payload: DeliveryChange];
  "agent:webhook": [agentId: string, payload: { executionId: string }];
  "agent:execution": [
    agentId: string,
    payload: { executionId: string; status: "RUNNING" | "SUCCEEDED" | "QUEUED" | "FAILED" },
  ];
};

/**
 * The subscriber side of a process: listeners per topic, fed by the process's LISTEN on {@link PUBSUB_CHANNEL}, so an
 * event published by any process (a worker running a relay action) reaches subscribers on every API process.
 * Publishing needs none of it (see {@link publish}): it is a NOTIFY through the pool.
 *
 * Sets rather than an EventTarget: adding and removing a listener of an EventTarget walks the listeners of its type,
 * which with 10,000 subscribers of one topic was 6.5 % of the server's CPU in the bench, and every dispatch built an
 * event object per topic.
 */
class TopicListeners {
  private readonly listeners = new Map<string, Set<(detail: unknown) => void>>();
  /** Listeners of every topic: the process's live hub subscriptions. */
  total = 0;

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  add(type: string, listener: (detail: unknown) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
    this.total += 1;
    return () => {
      const current = this.listeners.get(type);
      if (!current?.delete(listener)) return;
      this.total -= 1;
      if (current.size === 0) this.listeners.delete(type);
    };
  }

  count(type: string): number {
    return this.listeners.get(type)?.size ?? 0;
  }

  dispatchReceived(type: string, detail: unknown): void {
    const listeners = this.listeners.get(type);
    if (!listeners) return;
    // A batch (see publishMany) arrives as one notification and is handed to subscribers item by item.
    const many = (detail as { many?: unknown[] } | null)?.many;
    const items = Array.isArray(many) ? many : [detail];
    // Every subscriber gets the same item objects, so the rows they name are read once for all (notice-reads.ts),
    // and each result is executed once per audience (src/graphql/shared-subscription-execution.ts).
    shareNoticeReads(items);
    for (const item of items) {
      for (const listener of listeners) {
        // One subscriber's failure (its filter, say) must not cost the others this event.
        try {
          listener(item);
        } catch (error) {
          this.onListenerError(error);
        }
      }
    }
  }
}

/**
 * A process's subscriptions to events published anywhere: built once by the app context (src/app-context.ts) on API
 * processes and handed to resolvers as `context.services.subscriptions`.
 */
export interface SubscriptionHub {
  /** `keep` filters the topic's events for this subscriber before they wait in its queue. */
  subscribe<Topic extends keyof Topics>(
    topic: Topic,
    id: Topics[Topic][0],
    keep?: (event: Topics[Topic][1]) => boolean,
  ): AsyncIterableIterator<Topics[Topic][1]>;
  /**
   * How many subscriptions of this process listen to `topic` for `id` right now: an event published from then on
   * reaches them. Tests wait on it rather than sleeping for a subscription to attach.
   */
  subscriberCount<Topic extends keyof Topics>(topic: Topic, id: Topics[Topic][0]): number;
  stop(): Promise<void>;
}

/**
 * Starts listening for subscription events on the database (at start-up, after the pool is connected). Past
 * `maxSubscriptions` live subscriptions of the hub, a new one is refused with TOO_MANY_SUBSCRIPTIONS (a subscription
 * is counted once its first read attaches it, which graphql-ws does at once; a burst may pass by the few in between).
 */
export async function startSubscriptionHub(
  databaseUrl: string,
  logger: Logger,
  maxSubscriptions = DEFAULT_MAX_SUBSCRIPTIONS,
): Promise<SubscriptionHub> {
  const target = new TopicListeners((error) => logger.error({ err: error }, "a subscription listener failed"));
  const listener = new ChannelListener(
    databaseUrl,
    PUBSUB_CHANNEL,
    (payload) => {
      if (!payload) return;
      try {
        const { type, detail } = JSON.parse(payload) as { type: string; detail: unknown };
        target.dispatchReceived(type, detail);
      } catch (error) {
        logger.warn({ err: error }, "unreadable subscription event");
      }
    },
    logger,
  );
  await listener.start();
  return {
    // A bounded feed per subscription (not graphql-yoga's pubsub, whose Repeater throws from the event listener when
    // 1,024 events wait): a subscriber that falls too far behind is ended, never buffered without bound.
    subscribe: (topic, id, keep) => {
      if (target.total >= maxSubscriptions) throw new TooManySubscriptionsError(maxSubscriptions);
      return boundedFeed(
        (offer) => target.add(`${topic}:${id}`, offer as (detail: unknown) => void),
        undefined,
        undefined,
        keep,
      );
    },
    subscriberCount: (topic, id) => target.count(`${topic}:${id}`),
    stop: () => listener.stop(),
  };
}

/** Sends one subscription event to every process's subscribers, with the process's next NOTIFY flush. */
function send(type: string, detail: unknown): void {
  const message = JSON.stringify({ type, detail });
  if (Buffer.byteLength(message) > MAX_NOTIFY_BYTES)
    throw new Error(`subscription event ${type} is too large for NOTIFY`);
  notifySoon(PUBSUB_CHANNEL, message);
}

/** Publishes one event to the subscribers of `topic` for `id`, on every process. Call it after the commit. */
export function publish<Topic extends keyof Topics>(
  topic: Topic,
  id: Topics[Topic][0],
  payload: Topics[Topic][1],
): void {
  send(`${topic}:${id}`, payload);
}

/** Items per notification: each DeliveryChange is about 170 bytes of JSON, well inside NOTIFY's limit at 40. */
const ITEMS_PER_NOTIFY = 40;

/**
 * Publishes many events of one topic with one NOTIFY per few dozen instead of one each: the delivery hot path records
 * attempts in batches and must not pay a query per delivery to announce them.
 */
export function publishMany<Topic extends keyof Topics>(
  topic: Topic,
  id: Topics[Topic][0],
  items: Topics[Topic][1][],
): void {
  for (let start = 0; start < items.length; start += ITEMS_PER_NOTIFY) {
    send(`${topic}:${id}`, { many: items.slice(start, start + ITEMS_PER_NOTIFY) });
  }
}

/** Tells endpointHealthChanged subscribers of the tenant, on every instance. */
export function announceHealthChange(change: HealthChange): void {
  publish("endpoint:health", change.tenantId, change);
}
