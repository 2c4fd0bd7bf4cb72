import { LRUCache } from "lru-cache";
import { ChannelListener } from "../../db/listen.js";
import type { ApiKey } from "../../generated/prisma/client.js";
import type { Logger } from "../../logger.js";
import { findApiKeyRow } from "./api-keys.store.js";

/**
 * NOTIFY channel of the "ApiKey" trigger (migration 20261213000000_api_key_changes): the id of a key whose
 * revocation, expiry, scopes, secret, name or tenant changed, or that was deleted (with its tenant, say).
 */
export const API_KEY_CHANGES_CHANNEL = "signalpost_api_key_changes";

/**
 * How long a kept row is used without a notice. Notices make a change take effect at once; this bounds a change
 * missed by a connection whose loss has not been noticed yet (a cut network without a reset takes TCP keepalive).
 */
const KEPT_FOR_MS = 30_000;

/**
 * 5,000 keys: 1.76 KB each with the LRU's bookkeeping (measured: 17.6 MB for 10,000 rows of four scopes), so 8.8 MB
 * at most, for more distinct keys than one instance sees in half a minute. Past it the least recently used is read
 * again, never answered wrongly.
 */
const MAX_KEPT = 5_000;

/**
 * The API-key rows authentication reads, kept in this process while it hears of their changes, so that a steady
 * stream of requests with one key costs no lookup each: measured in `npm run bench -- --latency-only`, the key
 * lookup was one round trip per request (15,033 of them for 15,000 publishes), the most frequent statement of all.
 *
 * A kept row is used only while this process LISTENs on {@link API_KEY_CHANGES_CHANNEL} on the same connection it
 * was read under: every change that matters to authentication notifies (a trigger, so the CLI, tenant deletion and
 * plain SQL do too), and revoking still takes effect on every instance as soon as the notice lands, milliseconds
 * after the commit. Without the listener (not started, or its connection lost) every lookup reads the row, as
 * before: a missed notice can never keep a revoked key working for longer than {@link KEPT_FOR_MS}.
 */
export class ApiKeyRows {
  readonly #kept = new LRUCache<string, { row: ApiKey; connection: number }>({ max: MAX_KEPT, ttl: KEPT_FOR_MS });
  /** Notices heard so far: a row read while one arrived may predate the change it announced, so it is not kept. */
  #notices = 0;
  #listener: ChannelListener | undefined;

  /** The key with id `id` (a UUID), or undefined. */
  async find(id: string): Promise<ApiKey | undefined> {
    const connection = this.#listener?.hearing;
    if (connection === undefined) return findApiKeyRow(id);
    const kept = this.#kept.get(id);
    if (kept && kept.connection === connection) return kept.row;
    const noticesBefore = this.#notices;
    const row = await findApiKeyRow(id);
    if (row && this.#notices === noticesBefore && this.#listener?.hearing === connection) {
      this.#kept.set(id, { row, connection });
    }
    return row;
  }

  /** Starts keeping rows: LISTENs for key changes. Rejects when the database cannot be reached. */
  async listen(databaseUrl: string, logger: Logger): Promise<void> {
    const listener = new ChannelListener(
      databaseUrl,
      API_KEY_CHANGES_CHANNEL,
      (id) => this.#changed(id),
      logger,
      // Rows kept under the lost connection are not used again (see find); drop them.
      () => this.#kept.clear(),
    );
    await listener.start();
    this.#listener = listener;
  }

  /** Stops keeping rows (every lookup reads the row again). */
  async stop(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    this.#kept.clear();
    await listener?.stop();
  }

  #changed(id: string | undefined): void {
    this.#notices += 1;
    if (id) this.#kept.delete(id);
    else this.#kept.clear();
  }
}
