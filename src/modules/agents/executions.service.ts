import { prisma } from "../../db/prisma.js";
import { publish } from "../../db/pubsub.js";
import type { AgentExecution, Prisma } from "../../generated/prisma/client.js";
import { findOrNotFound, ValidationError } from "../../lib/errors.js";
import { groupCommit } from "../../lib/group-commit.js";
import { isUuid } from "../../lib/ids.js";
import { TransformError } from "../../lib/jsonata-sandbox.js";
import { executionsTotal } from "../../lib/metrics.js";
import type { Logger } from "../../logger.js";
import { wakeConsole } from "../console/console-events.js";
import { forwardToEndpoint, publishEvents } from "../events/events.service.js";
import { EXECUTION_RETRY_LIMIT } from "./acceptance.js";
import { type AgentAction, runTransform } from "./agent-config.js";
import { type ExecutionWithAgentRow, loadExecutionsWithAgents, writeExecutionTransitions } from "./inbound.store.js";

type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "QUEUED" | "FAILED";

/** The execution with what running it needs of its agent, read in one query. */
type LoadedExecution = Omit<ExecutionWithAgentRow, "agentName" | "transform" | "actions"> & {
  agent: { name: string; transform: string | null; actions: AgentAction[] };
};

/**
 * Reads executions with their agents, many per query: a batch of jobs starts its executions together, and the loads
 * they ask for at the same moment are read at once (the same batching as the transitions' writes).
 */
const loadExecution: (executionId: string) => Promise<LoadedExecution | null> = groupCommit(
  async (executionIds: string[]) => {
    const rows = await loadExecutionsWithAgents(executionIds);
    const byId = new Map(
      rows.map(({ agentName, transform, actions, ...execution }) => [
        execution.id,
        { ...execution, agent: { name: agentName, transform, actions: actions as AgentAction[] } },
      ]),
    );
    return executionIds.map((id) => byId.get(id) ?? null);
  },
);

interface Transition {
  execution: LoadedExecution;
  status: ExecutionStatus;
  result?: unknown;
  error: string | null;
}

/**
 * Moves executions to their new status with their console events: one statement for all the transitions that
 * concurrent executions ask for at the same moment (group commit), since executions are the inbound path's second
 * half and each used to cost a transaction per change.
 */
async function writeTransitions(transitions: Transition[]): Promise<undefined[]> {
  await writeExecutionTransitions(
    transitions.map((t) => ({
      id: t.execution.id,
      status: t.status,
      result: t.result === undefined ? null : JSON.stringify(t.result),
      error: t.error,
      console: {
        status: t.status,
        agentName: t.execution.agent.name,
        ...(t.error ? { error: t.error.slice(0, 300) } : {}),
      },
    })),
  );
  // Announced once committed: agentExecutionUpdated subscribers, then the consoles (see db/notify.ts).
  for (const t of transitions) {
    publish("agent:execution", t.execution.agentId, { executionId: t.execution.id, status: t.status });
    executionsTotal.inc({ status: t.status.toLowerCase() });
  }
  wakeConsole();
  return transitions.map(() => undefined);
}

const submitTransition = groupCommit(writeTransitions);

function transition(
  execution: LoadedExecution,
  status: ExecutionStatus,
  changes: { result?: unknown; error?: string | null },
): Promise<void> {
  return submitTransition({ execution, status, result: changes.result, error: changes.error ?? null });
}

/**
 * Starts of one execution that may end without finishing before it is given up. A worker process that dies (or hangs
 * past the job's expiry) while running an execution leaves its row RUNNING, and pg-boss hands the job out again: an
 * execution that takes its worker down each time would otherwise do so at every retry, and its batch with it.
 */
export const INTERRUPTED_STARTS_LIMIT = 2;

/**
 * Runs one execution: the transform (JSONata, sandboxed), then each action in order. A failure is recorded on the
 * execution and rethrown so pg-boss retries; after the last retry the execution stays FAILED. A transform that breaks
 * a limit (memory, time, result size) fails it at once, and so does a third start after two that never finished.
 * Each status it takes is announced, so subscribers see every step even when they read late.
 */
export async function runExecution(executionId: string, retryCount: number, logger: Logger): Promise<void> {
  const execution = await loadExecution(executionId);
  if (!execution || execution.status === "SUCCEEDED" || execution.status === "FAILED") return;
  // Still RUNNING as it starts again: the start before this one never finished.
  const interrupted = execution.interruptedStarts + (execution.status === "RUNNING" ? 1 : 0);
  if (interrupted >= INTERRUPTED_STARTS_LIMIT) {
    await transition(execution, "FAILED", {
      error: "EXECUTION_QUARANTINED: the worker died twice while running it; it is not run again",
    });
    logger.error({ executionId, agentId: execution.agentId, interrupted }, "agent execution quarantined");
    return;
  }
  await transition(execution, "RUNNING", { error: null });
  try {
    const payload = execution.agent.transform
      ? await runTransform(execution.agent.transform, execution.payload)
      : execution.payload;
    const results = [];
    for (const action of execution.agent.actions) {
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
        publish("agent:webhook", execution.agentId, { executionId: execution.id });
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
    await transition(execution, "SUCCEEDED", { result: { payload, actions: results }, error: null });
  } catch (error) {
    const unretryable = error instanceof TransformError && !error.retryable;
    const last = unretryable || retryCount >= EXECUTION_RETRY_LIMIT;
    await transition(execution, last ? "FAILED" : "QUEUED", { error: (error as Error).message.slice(0, 2_000) });
    logger.warn({ executionId, agentId: execution.agentId, attempt: retryCount + 1, last }, "agent execution failed");
    // Recorded as FAILED and the job done: pg-boss must not run it again.
    if (unretryable) return;
    throw error;
  }
}

/**
 * One of the tenant's executions, with the relations a GraphQL `query` asks for.
 * @throws NotFoundError (field `id`) for a missing, malformed or foreign id alike.
 */
export async function findExecution(
  tenantId: string,
  id: string,
  client: Prisma.TransactionClient = prisma,
  query: { include?: Prisma.AgentExecutionInclude; select?: Prisma.AgentExecutionSelect } = {},
): Promise<AgentExecution> {
  return findOrNotFound("execution", id, () => client.agentExecution.findFirst({ ...query, where: { id, tenantId } }));
}

/**
 * The agent's relayed requests received after `afterExecutionId` (those whose execution finished, so their relay
 * action ran), then the live ones. The live subscription is opened before the database is read, and ids already
 * sent are skipped, so nothing falls between the two and nothing comes twice.
 * @throws ValidationError (field `after`) on the first read when `after` is not an execution of this agent.
 */
export async function* relayedSince(
  tenantId: string,
  agentId: string,
  afterExecutionId: string,
  live: AsyncIterable<{ executionId: string }>,
): AsyncGenerator<{ executionId: string }> {
  const iterator = live[Symbol.asyncIterator]();
  // Pub/sub iterators start listening on their first next(): ask now, before reading the database.
  let pending = iterator.next();
  // Whatever ends it (a failed read included), the live feed is returned, so its listener goes.
  try {
    const anchor = isUuid(afterExecutionId)
      ? await prisma.agentExecution.findFirst({ where: { id: afterExecutionId, tenantId, agentId } })
      : null;
    if (!anchor) throw new ValidationError("`after` is not an execution of this agent", "after");
    const missed = await prisma.agentExecution.findMany({
      where: {
        tenantId,
        agentId,
        status: "SUCCEEDED",
        OR: [{ receivedAt: { gt: anchor.receivedAt } }, { receivedAt: anchor.receivedAt, id: { gt: anchor.id } }],
      },
      orderBy: [{ receivedAt: "asc" }, { id: "asc" }],
      take: 1_000,
      select: { id: true },
    });
    const sent = new Set<string>();
    for (const { id } of missed) {
      sent.add(id);
      yield { executionId: id };
    }
    for (;;) {
      const next = await pending;
      if (next.done) return;
      pending = iterator.next();
      if (sent.has(next.value.executionId)) continue;
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}
