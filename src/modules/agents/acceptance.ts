import { randomUUID } from "node:crypto";
import { EXECUTIONS_CHANNEL } from "../../db/listen.js";
import { wakeSoon } from "../../db/notify.js";
import { prepared } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";
import { withTransaction } from "../../db/transaction.js";
import { jobQueue } from "../../jobs/kit/queue.js";
import { groupCommit } from "../../lib/group-commit.js";
import { insertConsoleEvents, wakeConsole } from "../console/console-events.js";

/** The pg-boss queue that runs executions. */
export const EXECUTION_QUEUE = "agent.execute";
/** Tries per execution: the first run and two retries when an action fails. */
export const EXECUTION_RETRY_LIMIT = 2;

/**
 * Replay ids of GitHub-style requests (X-GitHub-Delivery) are stored with this prefix, apart from Standard Webhooks'
 * webhook-ids, and kept longer: GitHub signs no timestamp, so the only replay window is how long the id is kept.
 */
export const GITHUB_DELIVERY_PREFIX = "github:";
/**
 * How long accepted ids are remembered. A webhook-id older than the 5-minute timestamp tolerance cannot pass the
 * signature check again, so 10 minutes is plenty; a GitHub delivery id has no timestamp to age out, so it is kept
 * as long as GitHub lets anyone redeliver a delivery (3 days).
 */
export const WEBHOOK_ID_RETENTION = "10 minutes";
export const GITHUB_DELIVERY_RETENTION = "72 hours";

/**
 * Deletes up to `batch` ids whose replay window has passed and says how many went; the retention job calls it until
 * fewer than `batch` go, so a large backlog is never one huge transaction.
 */
export async function forgetExpiredMessageIds(batch = 5_000): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM "InboundMessage" WHERE ("agentId", "messageId") IN (
       SELECT "agentId", "messageId" FROM "InboundMessage"
       WHERE "receivedAt" < now() - interval '${WEBHOOK_ID_RETENTION}'
         AND ("messageId" NOT LIKE '${GITHUB_DELIVERY_PREFIX}%' OR "receivedAt" < now() - interval '${GITHUB_DELIVERY_RETENTION}')
       LIMIT $1)`,
    [batch],
  );
  return rowCount ?? 0;
}

/** A verified, valid inbound request, ready to be stored. */
export interface Acceptance {
  /**
   * The agent the request was checked against (inbound's InboundAgent; only what acceptance reads is named here, so
   * that this module does not import the route that calls it); refused with "agent_changed" if its row has changed
   * since (`version` is the row's xmin).
   */
  agent: { id: string; tenantId: string; name: string; version: string };
  payload: unknown;
  rawBody: string;
  headers: Record<string, string>;
  sourceIp: string | null;
  /** The webhook-id (or prefixed X-GitHub-Delivery), checked against replays in the same transaction; null for none. */
  messageId: string | null;
}

export type AcceptanceResult =
  | { accepted: true; executionId: string }
  | { accepted: false; reason: "replayed" | "agent_changed" };

/**
 * Stores an accepted request: its webhook-id (refusing a replay), a QUEUED execution, its pg-boss job and the console
 * event, all in one transaction, so there is never an execution without its job. Requests arriving while a write is
 * in flight are written together (group commit).
 */
export const accept: (acceptance: Acceptance) => Promise<AcceptanceResult> = groupCommit(writeBatch);

async function writeBatch(batch: Acceptance[]): Promise<AcceptanceResult[]> {
  const { results, acceptedAny } = await withTransaction(pool, async (client) => {
    // Requests checked against an agent row that has changed since are handed back, having consumed nothing.
    const { rows: versions } = await client.query<{ id: string; version: string }>(
      prepared(`SELECT id, xmin::text AS version FROM "Agent" WHERE id = ANY($1::uuid[])`, [
        [...new Set(batch.map((item) => item.agent.id))],
      ]),
    );
    const current = new Map(versions.map((row) => [row.id, row.version]));
    const unchanged = (item: Acceptance) => current.get(item.agent.id) === item.agent.version;
    // Replays: an id seen before for the agent (or earlier in this batch) is refused.
    const withIds = batch.filter((item) => item.messageId !== null && unchanged(item));
    const fresh = new Set<string>();
    if (withIds.length) {
      const { rows } = await client.query<{ agentId: string; messageId: string }>(
        prepared(
          `INSERT INTO "InboundMessage" ("agentId", "messageId") SELECT * FROM unnest($1::uuid[], $2::text[])
         ON CONFLICT DO NOTHING RETURNING "agentId", "messageId"`,
          [withIds.map((item) => item.agent.id), withIds.map((item) => item.messageId)],
        ),
      );
      for (const row of rows) fresh.add(`${row.agentId} ${row.messageId}`);
    }
    const results: AcceptanceResult[] = batch.map((item) => {
      if (!unchanged(item)) return { accepted: false, reason: "agent_changed" };
      if (item.messageId === null) return { accepted: true, executionId: randomUUID() };
      const key = `${item.agent.id} ${item.messageId}`;
      // Taking the key from the set makes a second copy in the same batch a replay too.
      if (!fresh.delete(key)) return { accepted: false, reason: "replayed" };
      return { accepted: true, executionId: randomUUID() };
    });
    const accepted = batch.flatMap((item, index) => {
      const result = results[index] as AcceptanceResult;
      return result.accepted ? [{ item, executionId: result.executionId }] : [];
    });
    if (accepted.length) {
      await client.query(
        prepared(
          `INSERT INTO "AgentExecution" (id, "tenantId", "agentId", payload, "rawBody", headers, "sourceIp")
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::jsonb[], $5::text[], $6::jsonb[], $7::text[])`,
          [
            accepted.map((entry) => entry.executionId),
            accepted.map((entry) => entry.item.agent.tenantId),
            accepted.map((entry) => entry.item.agent.id),
            accepted.map((entry) => JSON.stringify(entry.item.payload)),
            accepted.map((entry) => entry.item.rawBody),
            accepted.map((entry) => JSON.stringify(entry.item.headers)),
            accepted.map((entry) => entry.item.sourceIp),
          ],
        ),
      );
      // pg-boss writes the jobs through this transaction's connection.
      await jobQueue().insert(
        accepted.map((entry) => ({
          name: EXECUTION_QUEUE,
          data: { executionId: entry.executionId },
          retryLimit: EXECUTION_RETRY_LIMIT,
          retryDelay: 2,
          retryBackoff: true,
        })),
        { db: { executeSql: (text, values) => client.query(prepared(text, values)) } },
      );
      await insertConsoleEvents(
        client,
        accepted.map(({ item, executionId }) => ({
          tenantId: item.agent.tenantId,
          kind: "INBOUND_ACCEPTED" as const,
          agentId: item.agent.id,
          executionId,
          data: { agentName: item.agent.name, sourceIp: item.sourceIp },
        })),
      );
    }
    return { results, acceptedAny: accepted.length > 0 };
  });
  if (acceptedAny) {
    // Once committed: wakes an execution worker at once, and the consoles.
    wakeSoon(EXECUTIONS_CHANNEL);
    wakeConsole();
  }
  return results;
}
