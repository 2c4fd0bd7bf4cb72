import { createPubSub } from "graphql-yoga";
import { ChannelListener } from "../db/listen.js";
import { pool } from "../db/prisma.js";
import type { Logger } from "../logger.js";

/** The NOTIFY channel that carries subscription events between processes. */
export const PUBSUB_CHANNEL = "signalpost_pubsub";
/** NOTIFY payloads must stay under 8000 bytes: events carry ids, and resolvers read the rest back. */
const MAX_NOTIFY_BYTES = 7_900;

/** Topics and what each carries. */
export type Topics = {
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
  dispatchLocally(type: string, detail: unknown): void {
    super.dispatchEvent(new CustomEvent(type, { detail }));
  }

  override dispatchEvent(event: Event): boolean {
    const message = JSON.stringify({ type: event.type, detail: (event as CustomEvent).detail });
    if (Buffer.byteLength(message) > MAX_NOTIFY_BYTES)
      throw new Error(`subscription event ${event.type} is too large for NOTIFY`);
    void pool.query("SELECT pg_notify($1, $2)", [PUBSUB_CHANNEL, message]).catch(() => undefined);
    return true;
  }
}

export type SignalpostPubSub = ReturnType<typeof createPubSub<Topics>>;

let active: { pubsub: SignalpostPubSub; listener: ChannelListener } | undefined;

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
  active = { pubsub, listener };
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
