import { createPubSub } from "graphql-yoga";
import type { Logger } from "../logger.js";
import { ChannelListener } from "./listen.js";
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
 * An EventTarget whose dispatches go through PostgreSQL NOTIFY, so an event published by any process (a worker running
 * a relay action) reaches subscribers on every API process, each of which LISTENs and re-dispatches locally.
 */
class PostgresEventTarget extends EventTarget {
  /** Listeners per event type: each subscription adds its own (graphql-yoga's pubsub), so this counts subscriptions. */
  private readonly listeners = new Map<string, number>();

  override addEventListener(...args: Parameters<EventTarget["addEventListener"]>): void {
    super.addEventListener(...args);
    if (args[1]) this.listeners.set(args[0], this.listenerCount(args[0]) + 1);
  }

  override removeEventListener(...args: Parameters<EventTarget["removeEventListener"]>): void {
    super.removeEventListener(...args);
    const left = this.listenerCount(args[0]) - 1;
    if (left > 0) this.listeners.set(args[0], left);
    else this.listeners.delete(args[0]);
  }

  listenerCount(type: string): number {
    return this.listeners.get(type) ?? 0;
  }

  dispatchLocally(type: string, detail: unknown): void {
    // A batch (see publishMany) arrives as one notification and is handed to subscribers item by item.
    const items = (detail as { many?: unknown[] } | null)?.many;
    for (const item of Array.isArray(items) ? items : [detail])
      super.dispatchEvent(new CustomEvent(type, { detail: item }));
  }

  override dispatchEvent(event: Event): boolean {
    const message = JSON.stringify({ type: event.type, detail: (event as CustomEvent).detail });
    if (Buffer.byteLength(message) > MAX_NOTIFY_BYTES)
      throw new Error(`subscription event ${event.type} is too large for NOTIFY`);
    // Sent with the process's other notifications of the next couple of milliseconds, in one query.
    notifySoon(PUBSUB_CHANNEL, message);
    return true;
  }
}

export type SignalpostPubSub = ReturnType<typeof createPubSub<Topics>>;

let active: { pubsub: SignalpostPubSub; listener: ChannelListener; target: PostgresEventTarget } | undefined;

/** Starts the process's pub/sub on the database (at start-up, after the pool is connected). */
export async function startPubSub(databaseUrl: string, logger: Logger): Promise<SignalpostPubSub> {
  const target = new PostgresEventTarget();
  const listener = new ChannelListener(
    databaseUrl,
    PUBSUB_CHANNEL,
    (payload) => {
      if (!payload) return;
      try {
        const { type, detail } = JSON.parse(payload) as { type: string; detail: unknown };
        target.dispatchLocally(type, detail);
      } catch (error) {
        logger.warn({ err: error }, "unreadable subscription event");
      }
    },
    logger,
  );
  await listener.start();
  const pubsub = createPubSub<Topics>({ eventTarget: target as never });
  active = { pubsub, listener, target };
  return pubsub;
}

export async function stopPubSub(): Promise<void> {
  await active?.listener.stop();
  active = undefined;
}

/** The process's pub/sub. @throws before start-up has started it. */
export function pubsub(): SignalpostPubSub {
  if (!active) throw new Error("the pub/sub is not started");
  return active.pubsub;
}

/**
 * How many subscriptions of this process listen to `topic` for `id` right now: an event published from then on
 * reaches them. Tests wait on it rather than sleeping for a subscription to attach.
 */
export function localSubscriberCount<Topic extends keyof Topics>(topic: Topic, id: Topics[Topic][0]): number {
  return active?.target.listenerCount(`${topic}:${id}`) ?? 0;
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
  if (!active || items.length === 0) return;
  for (let start = 0; start < items.length; start += ITEMS_PER_NOTIFY) {
    active.target.dispatchEvent(
      new CustomEvent(`${topic}:${id}`, { detail: { many: items.slice(start, start + ITEMS_PER_NOTIFY) } }),
    );
  }
}

/** Tells endpointHealthChanged subscribers of the tenant, on every instance. */
export function announceHealthChange(change: HealthChange): void {
  active?.pubsub.publish("endpoint:health", change.tenantId, change);
}
