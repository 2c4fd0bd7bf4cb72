import { prepared } from "./prepared.js";
import { pool } from "./prisma.js";

/**
 * A fixed-window request budget per key, shared by every instance through the `RateLimit` table, but counted in
 * memory between syncs. Updating one row per request serialised every request for a key behind the previous one's
 * commit (a row lock held through the WAL flush): about 800 a second at most, whatever the machine. Here each
 * process adds up its own requests and writes the sum every `syncMs`, reading back everybody's total.
 *
 * The price: between syncs an instance does not see the others' requests, so all of them together may exceed the
 * budget by what they accept in one sync interval. One instance alone is exact.
 */
export class SharedWindowBudget {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  constructor(
    /** Key prefix in the table, e.g. `agent-inbound` (the same layout as rate-limiter-flexible's store). */
    private readonly prefix: string,
    private readonly windowMs = 60_000,
    private readonly syncMs = 100,
  ) {}

  /** Spends one request of `key`'s budget of `limit` per window, or says how long to wait. */
  async spend(key: string, limit: number): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || now >= window.endsAt) window = await this.load(key, now);
    if (window.shared + window.unsynced + window.syncing >= limit) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window.endsAt - now) / 1000)) };
    }
    window.unsynced += 1;
    this.scheduleSync();
    return { allowed: true, retryAfterSeconds: 0 };
  }

  /**
   * Whether `key` has used up `limit` as far as this process knows, without spending or reading anything: a key this
   * process has not spent from in the current window counts as free. For limits where only a few keys ever spend
   * (failed verifications), so that the many that never do cost nothing to check.
   */
  peek(key: string, limit: number): { allowed: boolean; retryAfterSeconds: number } {
    const now = Date.now();
    const window = this.windows.get(key);
    if (!window || now >= window.endsAt || window.shared + window.unsynced + window.syncing < limit) {
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window.endsAt - now) / 1000)) };
  }

  /**
   * Gives back one request spent in this window (one that turned out not to count, such as a replay refused after
   * the budget was spent). Already synced, it is taken off the shared row at the next sync.
   */
  refund(key: string): void {
    const window = this.windows.get(key);
    if (!window || Date.now() >= window.endsAt) return;
    window.unsynced -= 1;
    this.scheduleSync();
  }

  /** Reads the current window of `key` (shared by concurrent first requests for the same key). */
  private load(key: string, now: number): Promise<Window> {
    const pending = this.loading.get(key);
    if (pending) return pending;
    const loading = pool
      .query<{ points: number; expire: string | null }>(
        prepared(`SELECT points, expire::text AS expire FROM "RateLimit" WHERE key = $1`, [`${this.prefix}:${key}`]),
      )
      .then(({ rows }) => {
        const row = rows[0];
        const live = row?.expire != null && Number(row.expire) > now;
        const window: Window = {
          key,
          shared: live ? Math.max(0, row?.points ?? 0) : 0,
          endsAt: live ? Number(row?.expire) : now + this.windowMs,
          unsynced: 0,
          syncing: 0,
        };
        this.windows.set(key, window);
        return window;
      })
      .finally(() => this.loading.delete(key));
    this.loading.set(key, loading);
    return loading;
  }

  private readonly loading = new Map<string, Promise<Window>>();

  private scheduleSync(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.syncing ??= this.sync().finally(() => {
        this.syncing = undefined;
      });
    }, this.syncMs);
    this.timer.unref();
  }

  /** Adds every window's unsynced requests to its row in one statement, and takes back the totals. */
  private async sync(): Promise<void> {
    const now = Date.now();
    // Refunds make `unsynced` negative: those are written too, and taken off the shared count.
    const due = [...this.windows.values()].filter((window) => window.unsynced !== 0);
    for (const [key, window] of this.windows)
      if (window.endsAt <= now && window.unsynced === 0) this.windows.delete(key);
    if (due.length === 0) return;
    for (const window of due) {
      window.syncing = window.unsynced;
      window.unsynced = 0;
    }
    try {
      const { rows } = await pool.query<{ key: string; points: number; expire: string }>(
        prepared(
          `INSERT INTO "RateLimit" (key, points, expire)
         SELECT * FROM unnest($1::varchar[], $2::int[], $3::bigint[]) ORDER BY 1
         ON CONFLICT (key) DO UPDATE SET
           points = GREATEST(0, CASE WHEN "RateLimit".expire <= $4 OR "RateLimit".expire IS NULL THEN excluded.points
                         ELSE "RateLimit".points + excluded.points END),
           expire = CASE WHEN "RateLimit".expire <= $4 OR "RateLimit".expire IS NULL THEN excluded.expire
                         ELSE "RateLimit".expire END
         RETURNING key, points, expire::text AS expire`,
          [
            due.map((window) => `${this.prefix}:${window.key}`),
            due.map((window) => window.syncing),
            due.map(() => now + this.windowMs),
            now,
          ],
        ),
      );
      const byKey = new Map(rows.map((row) => [row.key, row]));
      for (const window of due) {
        const row = byKey.get(`${this.prefix}:${window.key}`);
        window.syncing = 0;
        if (row) {
          window.shared = Math.max(0, row.points);
          window.endsAt = Number(row.expire);
        }
      }
    } catch {
      // Counted again at the next sync rather than lost.
      for (const window of due) {
        window.unsynced += window.syncing;
        window.syncing = 0;
      }
    }
    if (due.some((window) => window.unsynced !== 0)) this.scheduleSync();
  }
}

interface Window {
  key: string;
  /** Every instance's requests in this window, as of the last sync (this one's synced ones included). */
  shared: number;
  endsAt: number;
  /** Accepted here since the last sync, less refunds (so it may be negative). */
  unsynced: number;
  /** Being written by the sync in flight. */
  syncing: number;
}
