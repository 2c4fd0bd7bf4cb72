import type pg from "pg";
import { columnList, named } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";
import { type Agent, Prisma } from "../../generated/prisma/client.js";
import { consoleEventsInsertSql } from "../console/console-events.js";
import { LONG_LIVED_ID_PREFIXES } from "./verification-schemes.js";

/**
 * The inbound path's SQL: the agent a request is checked against, the group-committed acceptance (replay ids, queued
 * executions) and the executions' loads and transitions. SQL rather than Prisma because this is a hot path measured
 * in the benchmark (src/db/prisma.ts). Rows are mapped explicitly where they enter, no per-row schema on this path.
 */

/**
 * How long accepted ids are remembered. A Standard Webhooks, Stripe or Slack request is valid for 5 minutes either side
 * of its timestamp, so at most 10 minutes after it was accepted: 15 minutes covers that with room for clock skew (and
 * is HMAC_SHA256's body-hash window). GitHub and Shopify sign no timestamp, so their delivery ids
 * (LONG_LIVED_ID_PREFIXES) are kept as long as GitHub lets anyone redeliver a delivery (3 days).
 */
export const WEBHOOK_ID_RETENTION = "15 minutes";
export const DELIVERY_ID_RETENTION = "72 hours";
const LONG_LIVED = LONG_LIVED_ID_PREFIXES.map((prefix) => `"messageId" LIKE '${prefix}%'`).join(" OR ");

const AGENT_COLUMNS = columnList(Prisma.AgentScalarFieldEnum);

/** An agent row with its version (the row's xmin), which acceptance compares to refuse requests checked on an older row. */
export type VersionedAgent = Agent & { version: string };

/** The agent's current row, or undefined when there is none. */
export async function findVersionedAgent(id: string): Promise<VersionedAgent | undefined> {
  const { rows } = await pool.query<Record<string, unknown>>(
    named(`SELECT ${AGENT_COLUMNS}, xmin::text AS version FROM "Agent" WHERE id = $id`, { id }),
  );
  const row = rows[0];
  if (!row) return undefined;
  if (typeof row.id !== "string" || typeof row.version !== "string" || typeof row.status !== "string") {
    throw new Error("unexpected Agent row");
  }
  return row as unknown as VersionedAgent;
}

/** The current version (xmin) of each of `agentIds` that still exists. */
export async function agentVersions(client: pg.ClientBase, agentIds: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await client.query<{ id: string; version: string }>(
    named(`SELECT id, xmin::text AS version FROM "Agent" WHERE id = ANY($agentIds::uuid[])`, { agentIds }),
  );
  return new Map(rows.map((row) => [String(row.id), String(row.version)]));
}

/**
 * Stores replay ids; returns the `"<agentId> <messageId>"` pairs that were new (a pair already stored is not).
 */
export async function claimMessageIds(
  client: pg.ClientBase,
  messages: readonly { agentId: string; messageId: string }[],
): Promise<Set<string>> {
  const { rows } = await client.query<{ agentId: string; messageId: string }>(
    named(
      `INSERT INTO "InboundMessage" ("agentId", "messageId") SELECT * FROM unnest($agentIds::uuid[], $messageIds::text[])
       ON CONFLICT DO NOTHING RETURNING "agentId", "messageId"`,
      {
        agentIds: messages.map((message) => message.agentId),
        messageIds: messages.map((message) => message.messageId),
      },
    ),
  );
  return new Set(rows.map((row) => `${String(row.agentId)} ${String(row.messageId)}`));
}

/** A QUEUED execution to insert for an accepted request. */
export interface NewExecution {
  id: string;
  tenantId: string;
  agentId: string;
  payload: unknown;
  rawBody: string;
  headers: Record<string, string>;
  sourceIp: string | null;
}

/** Inserts accepted requests' executions, one statement for the batch. */
export async function insertExecutions(client: pg.ClientBase, executions: readonly NewExecution[]): Promise<void> {
  await client.query(
    named(
      `INSERT INTO "AgentExecution" (id, "tenantId", "agentId", payload, "rawBody", headers, "sourceIp")
       SELECT * FROM unnest($ids::uuid[], $tenantIds::uuid[], $agentIds::uuid[], $payloads::jsonb[], $rawBodies::text[],
         $headers::jsonb[], $sourceIps::text[])`,
      {
        ids: executions.map((execution) => execution.id),
        tenantIds: executions.map((execution) => execution.tenantId),
        agentIds: executions.map((execution) => execution.agentId),
        payloads: executions.map((execution) => JSON.stringify(execution.payload)),
        rawBodies: executions.map((execution) => execution.rawBody),
        headers: executions.map((execution) => JSON.stringify(execution.headers)),
        sourceIps: executions.map((execution) => execution.sourceIp),
      },
    ),
  );
}

/**
 * Deletes up to `batch` ids whose replay window has passed and says how many went; the retention job calls it until
 * fewer than `batch` go, so a large backlog is never one huge transaction.
 */
export async function forgetExpiredMessageIds(batch = 5_000): Promise<number> {
  const { rowCount } = await pool.query(
    named(
      `DELETE FROM "InboundMessage" WHERE ("agentId", "messageId") IN (
         SELECT "agentId", "messageId" FROM "InboundMessage"
         WHERE "receivedAt" < now() - interval '${WEBHOOK_ID_RETENTION}'
           AND (NOT (${LONG_LIVED}) OR "receivedAt" < now() - interval '${DELIVERY_ID_RETENTION}')
         LIMIT $batch)`,
      { batch },
    ),
  );
  return rowCount ?? 0;
}

/** An execution row with what running it needs of its agent. */
export interface ExecutionWithAgentRow {
  id: string;
  tenantId: string;
  agentId: string;
  status: string;
  /** Starts that never finished before this one (see the migration execution_interrupted_starts). */
  interruptedStarts: number;
  payload: unknown;
  rawBody: string;
  headers: Record<string, string>;
  agentName: string;
  transform: string | null;
  actions: unknown;
}

/** Executions with their agents' name, transform and actions, in one query. */
export async function loadExecutionsWithAgents(executionIds: readonly string[]): Promise<ExecutionWithAgentRow[]> {
  const { rows } = await pool.query<ExecutionWithAgentRow>(
    named(
      `SELECT e.id, e."tenantId", e."agentId", e.status::text AS status, e."interruptedStarts", e.payload, e."rawBody",
         e.headers, a.name AS "agentName", a.transform, a.actions
       FROM "AgentExecution" e JOIN "Agent" a ON a.id = e."agentId" WHERE e.id = ANY($executionIds::uuid[])`,
      { executionIds },
    ),
  );
  return rows;
}

/** An execution's move to `status`, with the data of its console event. */
export interface ExecutionTransitionRow {
  id: string;
  status: string;
  /** JSON text of the result to keep, or null to keep the stored one. */
  result: string | null;
  error: string | null;
  /** The EXECUTION_UPDATED console event's data. */
  console: Record<string, unknown>;
}

/**
 * Moves executions to their new status with their console events, one statement for all of them (the execution
 * statuses and the events commit together).
 */
export async function writeExecutionTransitions(transitions: readonly ExecutionTransitionRow[]): Promise<void> {
  await pool.query(
    named(
      `WITH u AS (
       SELECT * FROM unnest($ids::uuid[], $statuses::text[], $results::jsonb[], $errors::text[], $consoles::jsonb[])
         AS u(id, status, result, error, console)
     ), changed AS (
       UPDATE "AgentExecution" e SET
         status = u.status::"ExecutionStatus",
         "startedAt" = CASE WHEN u.status = 'RUNNING' THEN now() ELSE e."startedAt" END,
         attempts = e.attempts + CASE WHEN u.status = 'RUNNING' THEN 1 ELSE 0 END,
         -- Starting one that is still RUNNING: the start before never finished (its worker died or hung).
         "interruptedStarts" = e."interruptedStarts"
           + CASE WHEN u.status = 'RUNNING' AND e.status = 'RUNNING' THEN 1 ELSE 0 END,
         "finishedAt" = CASE WHEN u.status IN ('SUCCEEDED', 'FAILED') THEN now() ELSE NULL END,
         result = COALESCE(u.result, e.result),
         error = u.error
       FROM u WHERE e.id = u.id
       RETURNING e.id, e."tenantId", e."agentId"
     ), announced AS (
       ${consoleEventsInsertSql(
         `SELECT c."tenantId", 'EXECUTION_UPDATED'::"ConsoleEventKind", NULL::uuid, NULL::uuid, c."agentId", c.id,
            NULL::uuid, u.console FROM changed c JOIN u ON u.id = c.id`,
       )}
       RETURNING 1
     )
     SELECT count(*) FROM announced`,
      {
        ids: transitions.map((t) => t.id),
        statuses: transitions.map((t) => t.status),
        results: transitions.map((t) => t.result),
        errors: transitions.map((t) => t.error),
        consoles: transitions.map((t) => JSON.stringify(t.console)),
      },
    ),
  );
}
