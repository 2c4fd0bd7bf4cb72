import { ValidationError } from "../../lib/errors.js";

/**
 * Seconds to wait before each retry after the first attempt, which is immediate: 5 s, 5 min, 30 min, 2 h, 5 h,
 * 10 h, 10 h. Eight attempts in all, spread over about a day and a half.
 */
export const DEFAULT_RETRY_DELAYS = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000] as const;

const MAX_RETRIES = 30;
const MAX_DELAY_SECONDS = 2 * 24 * 3600;
/** A Retry-After header is honoured between these bounds, so a receiver can neither hammer itself nor park us. */
const RETRY_AFTER_MIN_SECONDS = 1;
const RETRY_AFTER_MAX_SECONDS = 10 * 3600;
const JITTER = 0.2;

/**
 * Validates a custom policy and stores it as the explicit list of delays, one per retry: `maxAttempts` longer than
 * the list repeats its last delay; shorter cuts it.
 * @throws ValidationError naming `retryPolicy.delaysSeconds` or `retryPolicy.maxAttempts`.
 */
export function normaliseRetryPolicy(policy: {
  delaysSeconds: readonly number[];
  maxAttempts?: number | null;
}): number[] {
  const { delaysSeconds } = policy;
  if (delaysSeconds.length === 0) throw new ValidationError("give at least one delay", "retryPolicy.delaysSeconds");
  const bad = delaysSeconds.find((delay) => !Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS);
  if (bad !== undefined) {
    throw new ValidationError(
      `each delay is whole seconds from 0 to ${MAX_DELAY_SECONDS} (got ${bad})`,
      "retryPolicy.delaysSeconds",
    );
  }
  const maxAttempts = policy.maxAttempts ?? delaysSeconds.length + 1;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_RETRIES + 1) {
    throw new ValidationError(`maxAttempts must be between 1 and ${MAX_RETRIES + 1}`, "retryPolicy.maxAttempts");
  }
  const retries = maxAttempts - 1;
  const last = delaysSeconds[delaysSeconds.length - 1] as number;
  return Array.from({ length: retries }, (_, index) => delaysSeconds[index] ?? last);
}

/**
 * The wait before retry number `retryIndex` (0 for the first retry), with ±20 % jitter so that a receiver coming back
 * is not hit by every delivery at once; null when no retry is left. A Retry-After from the receiver replaces the
 * scheduled delay, within bounds.
 */
export function nextRetryDelayMs(
  delays: readonly number[],
  retryIndex: number,
  retryAfterSeconds: number | null,
  random: () => number = Math.random,
): number | null {
  const scheduled = delays[retryIndex];
  if (scheduled === undefined) return null;
  if (retryAfterSeconds !== null) {
    return Math.min(Math.max(retryAfterSeconds, RETRY_AFTER_MIN_SECONDS), RETRY_AFTER_MAX_SECONDS) * 1000;
  }
  const factor = 1 + (random() * 2 - 1) * JITTER;
  return Math.round(scheduled * 1000 * factor);
}

/** Reads Retry-After as seconds (delta-seconds or an HTTP date); null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}
