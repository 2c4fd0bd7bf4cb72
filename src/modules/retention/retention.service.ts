import { forgetExpiredMessageIds } from "../agents/acceptance.js";
import { TENANT_DEFAULTS } from "../settings/settings.service.js";
import { deleteOlderThan, retentionPolicies } from "./retention.store.js";

/** Rows deleted per statement, so a large backlog never holds long locks or one huge transaction. */
const DELETE_BATCH = 5_000;
const DAY_MS = 86_400_000;

export interface PruneReport {
  attempts: number;
  consoleEvents: number;
  /** Inbound webhook-ids and GitHub delivery ids past their replay window (see acceptance.ts). */
  inboundMessageIds: number;
}

/** Deletes `table`'s rows of one tenant older than `before`, batch by batch; returns how many went. */
async function pruneTable(table: "DeliveryAttempt" | "ConsoleEvent", tenantId: string, before: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const rowCount = await deleteOlderThan(table, tenantId, before, DELETE_BATCH);
    total += rowCount;
    if (rowCount < DELETE_BATCH) return total;
  }
}

/**
 * The retention job's work: each tenant's delivery attempts and console events older than its retention settings
 * (or the defaults) are deleted, and so are inbound message ids past their replay window (inbound requests used to
 * do that now and then themselves). Deliveries and events themselves stay: their status and last answer remain.
 */
export async function pruneOldRecords(now = new Date()): Promise<PruneReport> {
  const policies = await retentionPolicies({
    attemptDays: TENANT_DEFAULTS.attemptRetentionDays,
    consoleDays: TENANT_DEFAULTS.consoleRetentionDays,
  });
  const report: PruneReport = { attempts: 0, consoleEvents: 0, inboundMessageIds: 0 };
  for (const policy of policies) {
    report.attempts += await pruneTable(
      "DeliveryAttempt",
      policy.tenantId,
      new Date(now.getTime() - policy.attemptDays * DAY_MS),
    );
    report.consoleEvents += await pruneTable(
      "ConsoleEvent",
      policy.tenantId,
      new Date(now.getTime() - policy.consoleDays * DAY_MS),
    );
  }
  for (;;) {
    const forgotten = await forgetExpiredMessageIds(DELETE_BATCH);
    report.inboundMessageIds += forgotten;
    if (forgotten < DELETE_BATCH) return report;
  }
}
