import { columnList, named } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";
import { type ApiKey, Prisma } from "../../generated/prisma/client.js";
import { consoleEventsInsertSql } from "../console/console-events.js";

/**
 * The API-key SQL of every authenticated request (the key lookup and its usage marks), straight on the pg pool with
 * no Prisma runtime in between; creating, listing and revoking keys is Prisma (api-keys.service.ts).
 */

const API_KEY_COLUMNS = columnList(Prisma.ApiKeyScalarFieldEnum);

/** The key with id `id`, or undefined. */
export async function findApiKeyRow(id: string): Promise<ApiKey | undefined> {
  const { rows } = await pool.query<Record<string, unknown>>(
    named(`SELECT ${API_KEY_COLUMNS} FROM "ApiKey" WHERE id = $id`, { id }),
  );
  const row = rows[0];
  if (!row) return undefined;
  if (typeof row.id !== "string" || typeof row.secretHash !== "string") throw new Error("unexpected ApiKey row");
  return row as unknown as ApiKey;
}

/** Sets the key's lastUsedAt to `now` unless it is already later than `unlessAfter`. */
export async function markApiKeyUsed(id: string, now: Date, unlessAfter: Date): Promise<void> {
  await pool.query(
    named(
      `UPDATE "ApiKey" SET "lastUsedAt" = $now WHERE id = $id AND ("lastUsedAt" IS NULL OR "lastUsedAt" < $unlessAfter)`,
      { id, now, unlessAfter },
    ),
  );
}

/**
 * Claims the key's next API_KEY_USED announcement (usageAnnouncedAt not after `unlessAfter`) and writes its console
 * event in the same statement; says whether it did (the caller then wakes the consoles).
 */
export async function announceApiKeyUse(id: string, now: Date, unlessAfter: Date): Promise<boolean> {
  const { rows } = await pool.query<{ written: number }>(
    named(
      `WITH claimed AS (
         UPDATE "ApiKey" SET "usageAnnouncedAt" = $now
         WHERE id = $id AND ("usageAnnouncedAt" IS NULL OR "usageAnnouncedAt" <= $unlessAfter)
         RETURNING id, "tenantId", name, "lastChars"
       ), written AS (
         ${consoleEventsInsertSql(
           `SELECT "tenantId", 'API_KEY_USED'::"ConsoleEventKind", NULL::uuid, NULL::uuid, NULL::uuid, NULL::uuid, id,
              jsonb_build_object('name', name, 'lastChars', "lastChars") FROM claimed`,
         )}
         RETURNING 1
       ) SELECT count(*)::int AS written FROM written`,
      { id, now, unlessAfter },
    ),
  );
  return Number(rows[0]?.written ?? 0) > 0;
}
