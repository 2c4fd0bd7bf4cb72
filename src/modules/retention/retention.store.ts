import { z } from "zod";
import { named } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";

/** The retention job's SQL: batched deletes, which Prisma can only say as a read then a delete of the ids read. */

const policyRow = z.object({ tenantId: z.string(), attemptDays: z.number().int(), consoleDays: z.number().int() });

/** Every tenant's retention in days, its own settings or else the defaults given. */
export async function retentionPolicies(defaults: {
  attemptDays: number;
  consoleDays: number;
}): Promise<z.infer<typeof policyRow>[]> {
  const { rows } = await pool.query(
    named(
      `SELECT t.id AS "tenantId",
         COALESCE((s.values->>'attemptRetentionDays')::int, $attemptDays::int) AS "attemptDays",
         COALESCE((s.values->>'consoleRetentionDays')::int, $consoleDays::int) AS "consoleDays"
       FROM "Tenant" t LEFT JOIN "TenantSettings" s ON s."tenantId" = t.id`,
      defaults,
    ),
  );
  return rows.map((row) => policyRow.parse(row));
}

/** Deletes up to `batch` of one tenant's rows of `table` created before `before`; returns how many went. */
export async function deleteOlderThan(
  table: "DeliveryAttempt" | "ConsoleEvent",
  tenantId: string,
  before: Date,
  batch: number,
): Promise<number> {
  const { rowCount } = await pool.query(
    named(
      `DELETE FROM "${table}" WHERE id IN (
         SELECT id FROM "${table}" WHERE "tenantId" = $tenantId AND "createdAt" < $before LIMIT $batch)`,
      { tenantId, before, batch },
    ),
  );
  return rowCount ?? 0;
}
