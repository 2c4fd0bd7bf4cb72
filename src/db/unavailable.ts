/**
 * Recognises the errors that mean "the database cannot be reached right now" (restarting, refusing connections, a
 * connection cut under a query), as opposed to a query's own failure. Callers answer those with SERVICE_UNAVAILABLE
 * and retry later instead of treating them as bugs.
 */

/** PostgreSQL SQLSTATEs of a server going away or not yet back: admin/crash shutdown, starting up, class 08. */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03"]);
/** Socket errors under node-postgres. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH"]);
/** Prisma's codes: P1001 can't reach the server, P1002 timed out, P1017 the server closed the connection. */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1017"]);
/** @prisma/adapter-pg's driver error kinds (Prisma 7 puts them at `meta.driverAdapterError.cause.kind`). */
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
/** node-postgres raises these as plain Errors without a code. */
const DRIVER_MESSAGES =
  /connect (ECONNREFUSED|ENOENT|ECONNRESET)|Connection terminated|connection terminated unexpectedly|Client has encountered a connection error|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command|Can't reach database server/i;

/** True when `error` (or anything it wraps) says the database is unreachable, restarting or dropped the connection. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const current = pending.pop();
    if (!current || typeof current !== "object" || seen.has(current)) continue;
    seen.add(current);
    const candidate = current as {
      code?: unknown;
      kind?: unknown;
      message?: unknown;
      cause?: unknown;
      meta?: { driverAdapterError?: unknown };
      originalError?: unknown;
      errors?: unknown;
    };
    const code = typeof candidate.code === "string" ? candidate.code : undefined;
    if (code && (UNAVAILABLE_SQLSTATES.has(code) || code.startsWith("08") || SOCKET_CODES.has(code))) return true;
    if (code && PRISMA_CODES.has(code)) return true;
    // A Unix socket path that is gone while the embedded server restarts.
    if (code === "ENOENT" && (current as { syscall?: unknown }).syscall === "connect") return true;
    if (typeof candidate.kind === "string" && ADAPTER_KINDS.has(candidate.kind)) return true;
    if (candidate.kind === "postgres" && typeof code === "string" && UNAVAILABLE_SQLSTATES.has(code)) return true;
    if (typeof candidate.message === "string" && DRIVER_MESSAGES.test(candidate.message)) return true;
    pending.push(candidate.cause, candidate.meta?.driverAdapterError, candidate.originalError);
    if (Array.isArray(candidate.errors)) pending.push(...candidate.errors);
  }
  return false;
}

/** What a caller is told, over GraphQL and plain HTTP alike. */
export const UNAVAILABLE_MESSAGE = "the database is unavailable right now; retry shortly";

/** Seconds a caller is told to wait (Retry-After) when the database is unavailable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
