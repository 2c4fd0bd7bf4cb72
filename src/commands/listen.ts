import { request } from "undici";
import { relayedWebhooks } from "../../clients/typescript/src/index.js";
import { UsageError } from "./keys.js";
import { parseRemote } from "./remote.js";

/** Headers that describe one hop's connection, not the webhook: never forwarded. */
const HOP_BY_HOP = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade"]);

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
      const headers = Object.fromEntries(
        Object.entries((webhook.headers ?? {}) as Record<string, string>).filter(
          ([name]) => !HOP_BY_HOP.has(name.toLowerCase()),
        ),
      );
      const started = performance.now();
      let status: number | null = null;
      let failure: string | null = null;
      try {
        const response = await request(forward, { method: "POST", headers, body: webhook.body });
        status = response.statusCode;
        await response.body.dump();
      } catch (error) {
        failure = (error as Error).message;
      }
      const ms = Math.round(performance.now() - started);
      remote.print(
        `${new Date().toISOString()}  ${webhook.executionId}  POST ${forward} -> ${status ?? `error: ${failure}`} (${ms} ms)`,
        { executionId: webhook.executionId, receivedAt: webhook.receivedAt, status, error: failure, durationMs: ms },
      );
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
