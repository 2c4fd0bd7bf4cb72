import { relayedWebhooks } from "../../clients/typescript/src/index.js";
import { UsageError } from "./keys.js";
import { parseRemote } from "./remote.js";
import { endToEndHeaders, repost } from "./repost.js";

/**
 * `signalpost listen --agent <id> --forward <url>`: receives the agent's relayed webhooks (its `relay` action) over
 * a subscription and re-POSTs each to a local URL, body and headers intact, so the local handler can verify the
 * original signature. One line per request with the local answer; after a network loss it reconnects and catches
 * up from the last request it forwarded.
 */
export async function listenCommand(args: string[]): Promise<void> {
  const { remote, values } = parseRemote(args, { agent: { type: "string" }, forward: { type: "string" } });
  const agentId = values.agent as string | undefined;
  const forward = values.forward as string | undefined;
  if (!agentId) throw new UsageError("--agent <id> is required");
  if (!forward || !/^https?:\/\//.test(forward) || !URL.canParse(forward))
    throw new UsageError("--forward must be an http(s) URL, e.g. http://localhost:3000/hook");

  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let everConnected = false;
  const feed = relayedWebhooks(
    remote.client,
    agentId,
    {},
    {
      signal: controller.signal,
      onStatus: (status) => {
        if (status === "live") {
          remote.note(
            everConnected
              ? "Reconnected; caught up."
              : `Ready: forwarding agent ${agentId}'s webhooks to ${forward} (Ctrl-C to stop)`,
          );
          everConnected = true;
        } else if (status === "reconnecting") remote.note("Connection lost; reconnecting...");
      },
    },
  );
  try {
    for await (const webhook of feed) {
      const headers = endToEndHeaders((webhook.headers ?? {}) as Record<string, string>);
      const { status, error, durationMs } = await repost(forward, headers, webhook.body);
      remote.print(
        `${new Date().toISOString()}  ${webhook.executionId}  POST ${forward} -> ${status ?? `error: ${error}`} (${durationMs} ms)`,
        { executionId: webhook.executionId, receivedAt: webhook.receivedAt, status, error, durationMs },
      );
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
