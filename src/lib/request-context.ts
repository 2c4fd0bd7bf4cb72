import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

/**
 * A request's id, carried through everything the request runs (AsyncLocalStorage): every log line written while it
 * runs has it (logger.ts), and so do the audit entries and events it writes, so that a support ticket's
 * `x-request-id` finds the request's logs, its audit trail and the deliveries of what it published.
 */
const requests = new AsyncLocalStorage<{ requestId: string }>();

/**
 * A request id the caller may choose: 1 to 128 visible ASCII characters (UUIDs, ULIDs, a proxy's ids), nothing that
 * could split a log line or a header. Anything else is replaced by one of ours, not refused: the id is a courtesy.
 */
const CALLER_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The caller's `x-request-id` when it is usable, else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && CALLER_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Runs `work` as the request `requestId`: what it logs and writes carries the id. */
export function runAsRequest<T>(requestId: string, work: () => T): T {
  return requests.run({ requestId }, work);
}

/** The id of the request running now; undefined outside any (workers, the CLI, start-up). */
export function currentRequestId(): string | undefined {
  return requests.getStore()?.requestId;
}
