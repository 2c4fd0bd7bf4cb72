import { randomBytes } from "node:crypto";
import {
  AgentDocument,
  publishedEvents,
  relayedWebhooks,
  type SignalpostClient,
} from "../../clients/typescript/src/index.js";
import { signWebhook } from "../lib/webhook-signature.js";
import { actionTypes, agentId as agentIdFrom } from "./agents.js";
import { expectResult, parseRemote, type Remote } from "./remote.js";
import { endToEndHeaders, repost } from "./repost.js";
import { UsageError } from "./usage-error.js";

/**
 * `signalpost listen --forward-to <url> [--events a,b]`: the tenant's events, as they are published, signed like a
 * real delivery (Standard Webhooks, with a secret made for this session and printed at start) and POSTed to a local
 * URL, like `stripe listen`. `signalpost listen --agent <id|name> --forward-to <url>`: an agent's relayed webhooks
 * (its `relay` action), re-POSTed with body and headers intact. `--forward` is the older name of `--forward-to`.
 * One line per request with the local answer; after a network loss it reconnects.
 */
export async function listenCommand(args: string[]): Promise<void> {
  const { remote, values } = parseRemote(args, {
    agent: { type: "string" },
    "forward-to": { type: "string" },
    forward: { type: "string" },
    events: { type: "string" },
  });
  const forward = (values["forward-to"] ?? values.forward) as string | undefined;
  if (!forward || !/^https?:\/\//.test(forward) || !URL.canParse(forward))
    throw new UsageError("--forward-to must be an http(s) URL, e.g. http://localhost:3000/webhooks");
  const agent = values.agent as string | undefined;
  if (agent && values.events) throw new UsageError("--events filters published events; it does not apply to --agent");

  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    if (agent) await forwardAgent(remote, agent, forward, controller.signal);
    else {
      const eventTypes = ((values.events as string | undefined) ?? "")
        .split(",")
        .map((type) => type.trim())
        .filter(Boolean);
      await forwardEvents(remote, eventTypes, forward, controller.signal);
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

/** Prints "Ready ..." the first time the subscription is live, and the reconnects after. */
function statusNotes(remote: Remote, ready: string) {
  let everConnected = false;
  return (status: string) => {
    if (status === "live") {
      remote.note(everConnected ? "Reconnected." : ready);
      everConnected = true;
    } else if (status === "reconnecting") remote.note("Connection lost; reconnecting...");
  };
}

/** A Standard Webhooks secret for this session: whsec_ and 32 random bytes in base64, as endpoint secrets are. */
function sessionSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

async function forwardEvents(remote: Remote, eventTypes: string[], forward: string, signal: AbortSignal) {
  const secret = sessionSecret();
  // The secret goes to stdout before anything else: the local handler needs it to verify what follows.
  remote.print(`Signing secret for this session: ${secret}`, { secret });
  const which = eventTypes.length ? eventTypes.join(", ") : "every event type";
  const feed = publishedEvents(
    remote.client,
    { eventTypes },
    { signal, onStatus: statusNotes(remote, `Ready: forwarding ${which} to ${forward} (Ctrl-C to stop)`) },
  );
  for await (const event of feed) {
    const headers = {
      "content-type": "application/json",
      "user-agent": "signalpost-listen",
      ...signWebhook({ msgId: event.messageId, timestamp: new Date(), body: event.body, secrets: [secret] }),
    };
    const { status, error, durationMs } = await repost(forward, headers, event.body);
    remote.print(
      `${new Date().toISOString()}  ${event.eventType}  ${event.messageId}  POST ${forward} -> ${status ?? `error: ${error}`} (${durationMs} ms)`,
      { eventId: event.eventId, messageId: event.messageId, eventType: event.eventType, status, error, durationMs },
    );
  }
}

/** @throws UsageError (exit 2) when the agent has no relay action: nothing would ever arrive. */
async function relayingAgent(client: SignalpostClient, given: string): Promise<{ id: string; name: string }> {
  const id = await agentIdFrom(client, given);
  const { agent } = await client.request(AgentDocument, { id });
  const found = expectResult(agent, "Agent");
  if (!actionTypes(found).includes("relay"))
    throw new UsageError(
      `agent "${found.name}" has no relay action, so listen would receive nothing; add { "type": "relay" } to its actions (updateAgent)`,
    );
  return { id: found.id, name: found.name };
}

async function forwardAgent(remote: Remote, given: string, forward: string, signal: AbortSignal) {
  const agent = await relayingAgent(remote.client, given);
  const feed = relayedWebhooks(
    remote.client,
    agent.id,
    {},
    {
      signal,
      onStatus: statusNotes(remote, `Ready: forwarding agent ${agent.name}'s webhooks to ${forward} (Ctrl-C to stop)`),
    },
  );
  for await (const webhook of feed) {
    const headers = endToEndHeaders((webhook.headers ?? {}) as Record<string, string>);
    const { status, error, durationMs } = await repost(forward, headers, webhook.body);
    remote.print(
      `${new Date().toISOString()}  ${webhook.executionId}  POST ${forward} -> ${status ?? `error: ${error}`} (${durationMs} ms)`,
      { executionId: webhook.executionId, receivedAt: webhook.receivedAt, status, error, durationMs },
    );
  }
}
