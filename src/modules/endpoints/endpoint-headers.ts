import { Prisma } from "../../generated/prisma/client.js";
import type { Keyring } from "../../lib/master-key.js";
import { openSecret, sealSecret } from "../../lib/secret-box.js";
import type { Logger } from "../../logger.js";
import { endpointsWithLegacyHeaders, replaceLegacyHeaders } from "./endpoints.store.js";

/**
 * Endpoint custom headers are how receivers authenticate us (`Authorization: Bearer ...`), so their values are
 * credentials: encrypted at rest with the secret box (master keyring), listed as names with masked values, and shown
 * in full only by the audited, rate-limited reveal. The names stay readable in `headerNames`.
 */

/** What every reader sees instead of a header value. Not a valid header value (not Latin-1), so never a real one. */
export const HEADER_VALUE_MASK = "••••••••";

/** The columns an endpoint keeps its headers in. */
export interface StoredHeaders {
  headerNames: string[] | null;
  sealedHeaders: string | null;
  /** Plaintext from before encryption at rest, until start-up seals it (see {@link sealLegacyEndpointHeaders}). */
  legacyPlaintextHeaders: Prisma.JsonValue | null;
}

/** The columns to write for a set of headers (the legacy plaintext cleared). */
export async function sealHeaders(
  keyring: Keyring,
  headers: Record<string, string>,
): Promise<{
  headerNames: string[];
  sealedHeaders: string | null;
  legacyPlaintextHeaders: typeof Prisma.DbNull;
}> {
  const names = Object.keys(headers);
  return {
    headerNames: names,
    sealedHeaders: names.length ? await sealSecret(keyring, JSON.stringify(headers)) : null,
    legacyPlaintextHeaders: Prisma.DbNull,
  };
}

/** The headers in full, for sending and for the reveal. @throws when the master key that sealed them is missing. */
export async function openHeaders(
  keyring: Keyring,
  stored: Pick<StoredHeaders, "sealedHeaders" | "legacyPlaintextHeaders">,
): Promise<Record<string, string>> {
  if (stored.sealedHeaders)
    return JSON.parse(await openSecret(keyring, stored.sealedHeaders)) as Record<string, string>;
  if (stored.legacyPlaintextHeaders && typeof stored.legacyPlaintextHeaders === "object")
    return stored.legacyPlaintextHeaders as Record<string, string>;
  return {};
}

/** What listings show: every name in full, every value masked. */
export function maskedHeaders(stored: Pick<StoredHeaders, "headerNames">): Record<string, string> {
  return Object.fromEntries((stored.headerNames ?? []).map((name) => [name, HEADER_VALUE_MASK]));
}

const SEAL_BATCH = 200;

/**
 * Seals the plaintext header values left by the migration that introduced encryption at rest (SQL cannot encrypt
 * with the keyring), then clears them. Runs at every start-up and usually finds nothing; several processes may run it
 * at once: each row is written only while it still holds the plaintext that was sealed. `updatedAt` is left alone:
 * the values do not change, so senders' caches stay right. Returns how many rows it sealed.
 */
export async function sealLegacyEndpointHeaders(keyring: Keyring, logger: Logger): Promise<number> {
  let sealed = 0;
  for (;;) {
    const rows = await endpointsWithLegacyHeaders(SEAL_BATCH);
    if (rows.length === 0) break;
    let written = 0;
    for (const row of rows) {
      const legacy = row.legacyPlaintextHeaders;
      const headers = Object.fromEntries(
        (legacy && typeof legacy === "object" && !Array.isArray(legacy) ? Object.entries(legacy) : []).map(
          ([name, value]) => [name, String(value)],
        ),
      );
      const names = Object.keys(headers);
      const replaced = await replaceLegacyHeaders({
        id: row.id,
        sealedHeaders: names.length ? await sealSecret(keyring, JSON.stringify(headers)) : null,
        headerNames: names,
        legacy: JSON.stringify(row.legacyPlaintextHeaders),
      });
      if (replaced) written += 1;
    }
    sealed += written;
    // Every row of the batch changed under us (another process sealed it): what is left is theirs to finish.
    if (written === 0) break;
  }
  if (sealed) logger.info({ endpoints: sealed }, "encrypted the custom header values of endpoints stored in plaintext");
  return sealed;
}
