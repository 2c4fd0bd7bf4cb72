import { GraphQLError } from "graphql";
import { builder } from "../../builder.js";
import { boundedFeed } from "../../lib/bounded-feed.js";
import { VERSION } from "../../version.js";

interface HeartbeatShape {
  sequence: number;
  at: Date;
}

const Heartbeat = builder.objectRef<HeartbeatShape>("Heartbeat").implement({
  description: "A tick of the heartbeat subscription: proof that the live connection works end to end.",
  fields: (t) => ({
    sequence: t.exposeInt("sequence", { description: "Counts from 1 for each subscription." }),
    at: t.expose("at", { type: "DateTime", description: "When the server sent this tick." }),
  }),
});

const ServerInfo = builder.objectRef<{ version: string; startedAt: Date }>("ServerInfo").implement({
  description: "The running server: its version and when it started.",
  fields: (t) => ({
    version: t.exposeString("version", {
      description: "The running Signalpost version.",
    }),
    startedAt: t.expose("startedAt", {
      description: "When this server process started.",
      type: "DateTime",
    }),
  }),
});

const startedAt = new Date();

builder.queryField("serverInfo", (t) =>
  t.field({
    type: ServerInfo,
    description: "What is serving this API. Public, so that tools can check they reached Signalpost.",
    skipTypeScopes: true,
    authScopes: { public: true },
    resolve: () => ({ version: VERSION, startedAt }),
  }),
);

const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 60_000;
/**
 * Heartbeats of the process at once. They are public, so they are not counted in the process's cap of subscriptions
 * (anonymous clients could otherwise fill it), and have this cap of their own: a tick timer each, a check for tools.
 */
export const MAX_HEARTBEATS = 1_000;
let heartbeats = 0;
/** Heartbeats running now (tests wait on it). */
export const runningHeartbeats = () => heartbeats;

builder.subscriptionField("heartbeat", (t) =>
  t.field({
    type: Heartbeat,
    description: "Ticks every `intervalMs` milliseconds while subscribed. Public: it carries no tenant data.",
    skipTypeScopes: true,
    authScopes: { public: true },
    args: {
      intervalMs: t.arg.int({ defaultValue: 1000, description: `Between ${MIN_INTERVAL_MS} and ${MAX_INTERVAL_MS}.` }),
    },
    subscribe: (_root, { intervalMs }) => {
      if (intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS) {
        throw new GraphQLError(`intervalMs must be between ${MIN_INTERVAL_MS} and ${MAX_INTERVAL_MS}`, {
          extensions: { code: "BAD_USER_INPUT", field: "intervalMs" },
        });
      }
      if (heartbeats >= MAX_HEARTBEATS) {
        throw new GraphQLError(`at most ${MAX_HEARTBEATS} heartbeat subscriptions run at once on this server`, {
          extensions: { code: "TOO_MANY_SUBSCRIPTIONS", limit: MAX_HEARTBEATS, scope: "heartbeat" },
        });
      }
      // A feed (not an async generator) so that unsubscribing clears the timer at once instead of after the pending
      // tick; bounded, so that a client that stops reading is ended instead of queueing ticks.
      return boundedFeed<HeartbeatShape>((offer) => {
        heartbeats += 1;
        let sequence = 0;
        const timer = setInterval(() => {
          sequence += 1;
          offer({ sequence, at: new Date() });
        }, intervalMs);
        return () => {
          heartbeats -= 1;
          clearInterval(timer);
        };
      });
    },
    resolve: (tick) => tick,
  }),
);
