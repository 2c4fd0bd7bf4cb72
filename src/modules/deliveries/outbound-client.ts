import type { OutboundClient } from "../../lib/http-client.js";

let client: OutboundClient | undefined;

/** Installs the process's outbound HTTP client (its connection pools are shared by every delivery). */
export function useOutboundClient(outbound: OutboundClient): void {
  client = outbound;
}

/** The process's outbound HTTP client. @throws when start-up has not installed one. */
export function outboundClient(): OutboundClient {
  if (!client) throw new Error("the outbound HTTP client is not started");
  return client;
}
