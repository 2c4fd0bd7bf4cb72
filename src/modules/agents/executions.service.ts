import { EXECUTIONS_CHANNEL } from "../../db/listen.js";
import { pool, prisma } from "../../db/prisma.js";
import type { Agent, AgentExecution } from "../../generated/prisma/client.js";
import { jobQueue } from "../../jobs/queue.js";
import { executionsTotal } from "../../lib/metrics.js";
import { pubsub } from "../../lib/pubsub.js";
import type { Logger } from "../../logger.js";
import { insertConsoleEvents, recordConsoleEvent } from "../console/console-events.js";
import { forwardToEndpoint, publishEvents } from "../events/events.service.js";
import { type AgentAction, runTransform } from "./agent-config.js";

/** The pg-boss queue that runs executions. */
export const EXECUTION_QUEUE = "agent.execute";
/** Tries per execution: the first run and two retries when an action fails. */
export const EXECUTION_RETRY_LIMIT = 2;

/**
 * Stores an accepted request as a QUEUED execution and enqueues its job in the same transaction (pg-boss writes through
 * our connection), so there is never an execution without its job or a job without its execution.
 */
export async function enqueueExecution(input: {
  agent: Agent;
  payload: unknown;
  rawBody: string;
  headers: Record<string, string>;
  sourceIp: string | null;
}): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO "AgentExecution" ("tenantId", "agentId", payload, "rawBody", headers, "sourceIp")
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [
        input.agent.tenantId,
        input.agent.id,
        JSON.stringify(input.payload),
        input.rawBody,
        JSON.stringify(input.headers),
        input.sourceIp,
      ],
    );
    const executionId = (rows[0] as { id: string }).id;
    await jobQueue().send(
      EXECUTION_QUEUE,
      { executionId },
      {
        retryLimit: EXECUTION_RETRY_LIMIT,
        retryDelay: 2,
        retryBackoff: true,
        db: { executeSql: (text, values) => client.query(text, values) },
      },
    );
    await insertConsoleEvents(client, [
      {
        tenantId: input.agent.tenantId,
        kind: "INBOUND_ACCEPTED",
        agentId: input.agent.id,
        executionId,
        data: { agentName: input.agent.name, sourceIp: input.sourceIp },
      },
    ]);
    // Sent on commit: wakes an execution worker at once.
    await client.query("SELECT pg_notify($1, '')", [EXECUTIONS_CHANNEL]);
    await client.query("COMMIT");
    return executionId;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Runs one execution: the transform (JSONata, time-limited), then each action in order. A failure is recorded on the
 * execution and rethrown so pg-boss retries; after the last retry the execution stays FAILED.
 */
export async function runExecution(
  executionId: string,
  retryCount: number,
  logger: Logger,
): Promise<AgentExecution | null> {
  const execution = await prisma.agentExecution.findUnique({ where: { id: executionId }, include: { agent: true } });
  if (!execution) return null;
  if (execution.status === "SUCCEEDED") return execution;
  await prisma.agentExecution.update({
    where: { id: executionId },
    data: { status: "RUNNING", startedAt: new Date(), attempts: { increment: 1 }, error: null },
  });
  // Each change is announced with the status it made, so subscribers see every step even when they read late.
  const announce = async (status: "RUNNING" | "SUCCEEDED" | "QUEUED" | "FAILED", error?: string) => {
    pubsub().publish("agent:execution", execution.agentId, { executionId, status });
    executionsTotal.inc({ status: status.toLowerCase() });
    await recordConsoleEvent({
      tenantId: execution.tenantId,
      kind: "EXECUTION_UPDATED",
      agentId: execution.agentId,
      executionId,
      data: { status, agentName: execution.agent.name, ...(error ? { error } : {}) },
    }).catch((consoleError: unknown) => logger.warn({ err: consoleError }, "could not record the execution's change"));
  };
  await announce("RUNNING");
  try {
    const payload = execution.agent.transform
      ? await runTransform(execution.agent.transform, execution.payload)
      : execution.payload;
    const results = [];
    for (const action of execution.agent.actions as AgentAction[]) {
      // One key per execution and action: a retried execution does not publish or forward twice.
      const idempotencyKey = `execution:${execution.id}:${results.length}`;
      if (action.type === "emitEvent") {
        const [published] = await publishEvents(
          execution.tenantId,
          [{ eventType: action.eventType, payload, idempotencyKey }],
          false,
        );
        results.push({ type: action.type, eventId: published?.event.id, deliveryCount: published?.deliveryCount ?? 0 });
      } else if (action.type === "relay") {
        // Subscribers on any API process get the execution id through NOTIFY and read the request back.
        pubsub().publish("agent:webhook", execution.agentId, { executionId: execution.id });
        results.push({ type: action.type });
      } else {
        // Forward sends the request as it came in (before any transform), with the headers the action names.
        const received = execution.headers as Record<string, string>;
        const forwarded = await forwardToEndpoint({
          tenantId: execution.tenantId,
          endpointId: action.endpointId,
          payload: execution.payload,
          rawBody: execution.rawBody,
          headers: Object.fromEntries(
            action.headers.flatMap((name) => (received[name] === undefined ? [] : [[name, received[name]]])),
          ),
          idempotencyKey,
        });
        results.push({ type: action.type, eventId: forwarded.eventId, deliveryCount: forwarded.deliveryCount });
      }
    }
    const succeeded = await prisma.agentExecution.update({
      where: { id: executionId },
      data: { status: "SUCCEEDED", finishedAt: new Date(), result: { payload: payload as object, actions: results } },
    });
    await announce("SUCCEEDED");
    return succeeded;
  } catch (error) {
    const last = retryCount >= EXECUTION_RETRY_LIMIT;
    await prisma.agentExecution.update({
      where: { id: executionId },
      data: {
        status: last ? "FAILED" : "QUEUED",
        finishedAt: last ? new Date() : null,
        error: (error as Error).message.slice(0, 2_000),
      },
    });
    await announce(last ? "FAILED" : "QUEUED", (error as Error).message.slice(0, 300));
    logger.warn({ executionId, agentId: execution.agentId, attempt: retryCount + 1, last }, "agent execution failed");
    throw error;
  }
}
