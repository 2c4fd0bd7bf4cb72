import type { OutboundResult } from "../../lib/http-client.js";
import { nextRetryDelayMs, parseRetryAfter } from "../endpoints/retry-policy.js";

/** Why a delivery ended up FAILED (the dead-letter state). */
export type FailureReason =
  | "attempts_exhausted"
  | "not_retryable_status"
  | "blocked_address"
  | "endpoint_gone"
  | "endpoint_disabled"
  | "cancelled"
  | "manual_attempt_failed"
  | "test_failed";

/** What one attempt's result means for its delivery. */
export type Outcome =
  | { kind: "succeeded" }
  /** Try again after delayMs; `keepRetryIndex` when the attempt was extra (manual) and must not use up the schedule. */
  | { kind: "retry"; delayMs: number; keepRetryIndex?: boolean }
  | { kind: "failed"; reason: FailureReason; disableEndpoint?: string };

const RETRYABLE_ERRORS = new Set(["timeout", "dns", "connection_refused", "tls", "network"]);

/**
 * Network errors, timeouts, 408, 429 and 5xx are retried on the endpoint's schedule (Retry-After honoured within
 * bounds); other statuses are not, and 410 Gone also disables the endpoint. A refused address is a configuration
 * problem that retrying cannot fix.
 */
export function decideOutcome(result: OutboundResult, delays: readonly number[], retryIndex: number): Outcome {
  if (result.ok) return { kind: "succeeded" };
  const status = result.statusCode;
  if (status === 410)
    return { kind: "failed", reason: "endpoint_gone", disableEndpoint: "the endpoint answered 410 Gone" };
  const errorClass = result.error?.class;
  if (errorClass === "blocked_address") return { kind: "failed", reason: "blocked_address" };
  const retryable =
    (errorClass !== undefined && RETRYABLE_ERRORS.has(errorClass)) ||
    status === 408 ||
    status === 429 ||
    (status !== null && status >= 500);
  if (!retryable) return { kind: "failed", reason: "not_retryable_status" };
  const retryAfter = status === 429 || status === 503 ? parseRetryAfter(result.responseHeaders["retry-after"]) : null;
  const delayMs = nextRetryDelayMs(delays, retryIndex, retryAfter);
  return delayMs === null ? { kind: "failed", reason: "attempts_exhausted" } : { kind: "retry", delayMs };
}

/** A one-line description of a failed attempt, for `lastError`. */
export function describeFailure(result: OutboundResult): string | null {
  if (result.ok) return null;
  if (result.error && result.error.class !== "http_status") return `${result.error.class}: ${result.error.message}`;
  return `HTTP ${result.statusCode}`;
}
