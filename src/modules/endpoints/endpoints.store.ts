import { z } from "zod";
import { named } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";

/**
 * The endpoint SQL Prisma cannot say: the start-up sealing of header values stored in plaintext, which writes a row
 * only while it still holds the plaintext that was read (a compare-and-set on a JSON column). Everything else about
 * endpoints is Prisma (endpoints.service.ts); delivery claims read endpoints in deliveries/delivery-store.ts.
 */

const legacyRow = z.object({ id: z.string(), legacyPlaintextHeaders: z.unknown() });

/** Up to `limit` endpoints that still hold plaintext header values, by id. */
export async function endpointsWithLegacyHeaders(
  limit: number,
): Promise<{ id: string; legacyPlaintextHeaders: unknown }[]> {
  const { rows } = await pool.query(
    named(
      `SELECT id, "legacyPlaintextHeaders" FROM "Endpoint" WHERE "legacyPlaintextHeaders" IS NOT NULL
       ORDER BY id LIMIT $limit`,
      { limit },
    ),
  );
  return rows.map((row) => legacyRow.parse(row));
}

/**
 * Stores the sealed header values and their names and clears the plaintext, if the row still holds `legacy` (JSON
 * text). Says whether it did.
 */
export async function replaceLegacyHeaders(input: {
  id: string;
  sealedHeaders: string | null;
  headerNames: string[];
  legacy: string;
}): Promise<boolean> {
  const { rowCount } = await pool.query(
    named(
      `UPDATE "Endpoint" SET "sealedHeaders" = $sealedHeaders, "headerNames" = $headerNames, "legacyPlaintextHeaders" = NULL
       WHERE id = $id AND "legacyPlaintextHeaders" = $legacy::jsonb`,
      input,
    ),
  );
  return (rowCount ?? 0) > 0;
}
