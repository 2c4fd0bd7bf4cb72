/**
 * The wait before a reconnect or retry after `failures` failures in a row: `baseMs` doubled per failure, never above
 * `capMs`. With `jitter`, a uniform pick from the upper half of that wait, so that processes which lost the same server
 * do not all come back in the same millisecond (and none comes back sooner than half the wait).
 *
 * Our own nine lines rather than a library: every loop that uses it (the notification connection, the delivery
 * dispatcher in an outage, the embedded PostgreSQL supervisor, the settings reload) owns its timer and state, and the
 * retry libraries (p-retry, exponential-backoff) want to own the loop instead.
 */
export function backoffMs(failures: number, options: { baseMs: number; capMs: number; jitter?: boolean }): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, failures));
  return options.jitter ? ceiling / 2 + Math.random() * (ceiling / 2) : ceiling;
}
