import { randomUUID } from "node:crypto";
import type PgBoss from "pg-boss";
import { EXECUTIONS_CHANNEL } from "../../db/listen.js";
import { wakeSoon } from "../../db/notify.js";
import { prepared } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";
import { withTransaction } from "../../db/transaction.js";
import { groupCommit } from "../../lib/group-commit.js";
import { insertConsoleEvents, wakeConsole } from "../console/console-events.js";
import { agentVersions, claimMessageIds, insertExecutions } from "./inbound.store.js";

/** The pg-boss queue that runs executions. */
export const EXECUTION_QUEUE = "agent.execute";
/** Tries per execution: the first run and two retries when an action fails. */
export const EXECUTION_RETRY_LIMIT = 2;

export { forgetExpiredMessageIds } from "./inbound.store.js";

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
export type Accept = (acceptance: Acceptance) => Promise<AcceptanceResult>;

/** The process's {@link Accept}, queueing executions on `queue` (the started pg-boss of the app context). */
export function createAcceptance(queue: Pick<PgBoss, "insert">): Accept {
  return groupCommit((batch: Acceptance[]) => writeBatch(queue, batch));
}

async function writeBatch(queue: Pick<PgBoss, "insert">, batch: Acceptance[]): Promise<AcceptanceResult[]> {
  const { results, acceptedAny } = await withTransaction(pool, async (client) => {
    // Requests checked against an agent row that has changed since are handed back, having consumed nothing.
    const current = await agentVersions(client, [...new Set(batch.map((item) => item.agent.id))]);
    const unchanged = (item: Acceptance) => current.get(item.agent.id) === item.agent.version;
    // Replays: an id seen before for the agent (or earlier in this batch) is refused.
    const withIds = batch.filter((item) => item.messageId !== null && unchanged(item));
    const fresh = withIds.length
      ? await claimMessageIds(
          client,
          withIds.map((item) => ({ agentId: item.agent.id, messageId: item.messageId as string })),
        )
      : new Set<string>();
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
      await insertExecutions(
        client,
        accepted.map(({ item, executionId }) => ({
          id: executionId,
          tenantId: item.agent.tenantId,
          agentId: item.agent.id,
          payload: item.payload,
          rawBody: item.rawBody,
          headers: item.headers,
          sourceIp: item.sourceIp,
        })),
      );
      // pg-boss writes the jobs through this transaction's connection.
      await queue.insert(
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
