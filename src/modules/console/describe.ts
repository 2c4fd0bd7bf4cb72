import { type NodeType, toOptionalGlobalId } from "../../lib/ids.js";
import { withMaskedUrl } from "../../lib/url-credentials.js";
import type { ConsoleEventRow } from "./console-events.js";

function text(value: unknown, fallback = "?"): string {
  return value === undefined || value === null || value === "" ? fallback : String(value);
}

/** What the receiver answered: `200 in 34 ms`, or the error class when there was no answer. */
function answer(data: Record<string, unknown>): string {
  const status = data.statusCode ? `${data.statusCode}` : text(data.errorClass, "no response");
  return `${status} in ${text(data.durationMs)} ms`;
}

/** An object named by its API id (the one clients can look up), for events whose data carries no name. */
function idOf(type: NodeType, uuid: string | null): string {
  return toOptionalGlobalId(type, uuid) ?? "?";
}

/** Whose secret: `endpoint orders`. */
function owner(data: Record<string, unknown>): string {
  return data.name ? `${text(data.target)} ${text(data.name)}` : text(data.target);
}

/**
 * One readable line per event, for consoles and logs. Never includes secrets: the data holds none, and an endpoint
 * URL in it is masked again here for rows written before its query values were.
 */
export function describeConsoleEvent(event: ConsoleEventRow): string {
  const data = withMaskedUrl(event.data);
  const target = `${text(data.eventType, "event")} to ${text(data.url, "endpoint")}`;
  switch (event.kind) {
    case "ATTEMPT_SUCCEEDED":
      return `Delivered ${target} (attempt ${text(data.attempt)}): ${answer(data)}`;
    case "ATTEMPT_FAILED":
      return `Manual attempt of ${target} failed: ${answer(data)}`;
    case "RETRY_SCHEDULED":
      return `Attempt ${text(data.attempt)} of ${target} failed: ${answer(data)}; next at ${text(data.nextAttemptAt)}`;
    case "DELIVERY_DEAD":
      return `Gave up on ${target} after attempt ${text(data.attempt)}: ${answer(data)} (${text(data.reason)})`;
    case "TEST_SENT":
      return `Test sent to ${text(data.url, "endpoint")}: ${answer(data)}`;
    case "ENDPOINT_DISABLED":
      return `Endpoint ${text(data.name, idOf("Endpoint", event.endpointId))} disabled: ${text(data.reason, "by request")}`;
    case "ENDPOINT_ENABLED":
      return `Endpoint ${text(data.name, idOf("Endpoint", event.endpointId))} enabled`;
    case "API_KEY_USED":
      return `API key ${text(data.name)} (…${text(data.lastChars)}) used`;
    case "API_KEY_CREATED":
      return `API key ${text(data.name)} created`;
    case "API_KEY_REVOKED":
      return `API key ${text(data.name)} revoked`;
    case "SECRET_REVEALED":
      if (Array.isArray(data.headerNames)) return `Header values of ${owner(data)} revealed`;
      return data.url === undefined ? `Secret of ${owner(data)} revealed` : `URL of ${owner(data)} revealed`;
    case "SECRET_REGENERATED":
      return `Secret of ${owner(data)} regenerated`;
    case "INBOUND_ACCEPTED":
      return `Webhook accepted by agent ${text(data.agentName, idOf("Agent", event.agentId))}`;
    case "INBOUND_REJECTED":
      return `Webhook refused by agent ${text(data.agentName, idOf("Agent", event.agentId))}: ${text(data.status)} ${text(data.code)}`;
    case "EXECUTION_UPDATED":
      return `Execution ${idOf("AgentExecution", event.executionId)} ${text(data.status).toLowerCase()}${data.error ? `: ${text(data.error)}` : ""}`;
  }
}
