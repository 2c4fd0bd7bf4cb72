import { SMALLEST_UUID } from "../lib/ids.js";
import type { Keyring } from "../lib/master-key.js";
import { maskSecret, openSecret } from "../lib/secret-box.js";
import type { Logger } from "../logger.js";
import { pool } from "./prisma.js";

/**
 * Listings show secrets masked, from a column written with the secret (created, rotated, regenerated), so a page of
 * endpoints or agents decrypts nothing. Rows written before those columns existed get their mask here.
 *
 * Why at start-up and not lazily on first read: the migration cannot compute masks (SQL has no keyring), and filling
 * them on read would put a decryption and a write back on the listing path, for each row, on every instance until
 * all were read, which is the cost the stored mask removes. At start-up it is one bounded pass, after migrations and
 * before the process serves, that finds nothing on every later start (the query uses the NULL rows only).
 */

/** The tables holding a sealed secret next to its stored mask. Identifiers are fixed here, never taken from input. */
const MASKED_SECRETS = [
  { table: "EndpointSecret", sealed: "encrypted", masked: "masked" },
  { table: "Agent", sealed: "encryptedSecret", masked: "maskedSecret" },
] as const;

/** What a listing shows for a secret whose mask could not be computed (its master key is not configured). */
export const UNKNOWN_SECRET_MASK = "•".repeat(8);

const BATCH = 200;

/**
 * Stores the mask of every secret that has none yet. Idempotent and safe to run in several processes at once: a row
 * is written only while its mask is still NULL and its ciphertext is the one that was opened. A secret that cannot
 * be opened (sealed under a master key no longer configured) is logged and left NULL; listings then show
 * {@link UNKNOWN_SECRET_MASK}. Returns how many masks it stored.
 */
export async function backfillSecretMasks(keyring: Keyring, logger: Logger): Promise<number> {
  let stored = 0;
  for (const { table, sealed, masked } of MASKED_SECRETS) {
    let after = SMALLEST_UUID;
    let unreadable = 0;
    for (;;) {
      // Keyset pages by id, so rows left NULL (unreadable) are not read again.
      const { rows } = await pool.query<{ id: string; sealed: string }>(
        `SELECT id, "${sealed}" AS sealed FROM "${table}" WHERE "${masked}" IS NULL AND id > $1 ORDER BY id LIMIT $2`,
        [after, BATCH],
      );
      if (rows.length === 0) break;
      after = rows[rows.length - 1]?.id ?? after;
      for (const row of rows) {
        let mask: string;
        try {
          mask = maskSecret(await openSecret(keyring, row.sealed));
        } catch {
          unreadable += 1;
          continue;
        }
        const { rowCount } = await pool.query(
          `UPDATE "${table}" SET "${masked}" = $2 WHERE id = $1 AND "${masked}" IS NULL AND "${sealed}" = $3`,
          [row.id, mask, row.sealed],
        );
        stored += rowCount ?? 0;
      }
    }
    if (unreadable)
      logger.warn({ table, rows: unreadable }, "secrets sealed under a master key that is not configured: not masked");
  }
  if (stored) logger.info({ secrets: stored }, "stored the masks of secrets written before masks were stored");
  return stored;
}
