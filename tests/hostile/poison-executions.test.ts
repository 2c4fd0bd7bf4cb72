import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool, prisma } from "../../src/db/prisma.js";
import { insertJobs } from "../../src/jobs/kit/produce.js";
import { EXECUTION_QUEUE } from "../../src/modules/agents/acceptance.js";
import { execute } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { postSignedWebhook } from "../support/inbound.js";
import { type SignalpostProcess, startCompiledServer } from "../support/process.js";
import { type SeededKey, seed, seedEventType } from "../support/seed.js";
import { until } from "../support/wait.js";

// Poison executions against the build `npm start` runs, with its heap cap: a transform that allocates without end
// used to abort the worker process, and the job came back to abort the next one. The process must live through each
// and run the next, normal execution.
let server: SignalpostProcess;
let baseUrl: string;
let admin: SeededKey;

beforeAll(async () => {
  admin = await seed.tenantWithKey();
  await seedEventType(admin.tenant.id, "poison.checked");
  ({ server, baseUrl } = await startCompiledServer());
}, 120_000);
afterAll(() => {
  server?.child.kill("SIGKILL");
});

/** An ACTIVE agent of the admin tenant with this transform, publishing the result as a `poison.checked` event. */
async function agentWith(transform: string) {
  const created = await execute<{ createAgent: { secret: string; agent: { id: string }; message?: string } }>(
    `mutation ($input: CreateAgentInput!) {
      createAgent(input: $input) { ... on CreatedAgent { secret agent { id } } ... on Error { message } } }`,
    {
      input: {
        name: `poison-${randomBytes(3).toString("hex")}`,
        status: "ACTIVE",
        transform,
        actions: [{ type: "emitEvent", eventType: "poison.checked" }],
      },
    },
    admin.headers,
  );
  const { secret, agent } = created.data?.createAgent ?? {};
  if (!secret || !agent) throw new Error(`createAgent failed: ${JSON.stringify(created)}`);
  return { agentId: agent.id, secret };
}

/** Posts a signed webhook to the agent and waits for its execution to finish; returns the execution row. */
async function runThrough(agent: { agentId: string; secret: string }, payload: unknown = { n: 1 }) {
  const response = await postSignedWebhook(baseUrl, agent.agentId, agent.secret, JSON.stringify(payload));
  expect(response.status).toBe(202);
  const { executionId } = (await response.json()) as { executionId: string };
  return finished(uuidOf(executionId));
}

function finished(executionId: string) {
  return until(
    () => prisma.agentExecution.findUniqueOrThrow({ where: { id: executionId } }),
    (execution) => execution.status === "SUCCEEDED" || execution.status === "FAILED",
    "the execution to finish",
    30_000,
  );
}

/**
 * The kill limit (2 s) plus room for a child process to start on a loaded machine: a limit that holds ends the
 * execution well inside this, where a retry or a dead worker would not end it at all.
 */
const WITHIN_LIMITS_MS = 8_000;

/** From the execution's RUNNING to its end, by the database's clock. */
function ranForMs(execution: { startedAt: Date | null; finishedAt: Date | null }): number {
  return (execution.finishedAt?.getTime() ?? Number.POSITIVE_INFINITY) - (execution.startedAt?.getTime() ?? 0);
}

async function stillWorking() {
  expect(server.child.exitCode).toBeNull();
  expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
  const normal = await runThrough(await agentWith('{ "doubled": n * 2 }'), { n: 21 });
  expect(normal).toMatchObject({ status: "SUCCEEDED", result: { payload: { doubled: 42 } } });
}

describe("a transform that breaks a limit fails its execution once, and the worker process lives", () => {
  it("one that allocates without end: FAILED with TRANSFORM_MEMORY_LIMIT, not retried", async () => {
    // 100 million one-character strings in one array: 800 MB of pointers, which aborted the 512 MB process.
    const execution = await runThrough(await agentWith('$split($pad("x", 100000000), "")'));
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toMatch(/^TRANSFORM_MEMORY_LIMIT: the transform used more than 64 MB/);
    expect(execution.attempts).toBe(1);
    expect(ranForMs(execution)).toBeLessThan(WITHIN_LIMITS_MS);
    await stillWorking();
  });

  it("one that loops: FAILED with TRANSFORM_TIMEOUT, from JSONata's own limit and from the kill limit", async () => {
    const recursion = await runThrough(await agentWith("($loop := function($n) { $loop($n + 1) }; $loop(0))"));
    expect(recursion).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(recursion.error).toMatch(/^TRANSFORM_TIMEOUT: Evaluation timeout after 250 milliseconds/);
    // One regular expression that backtracks for ages is one native step: JSONata cannot stop it, the kill does.
    const backtracking = await runThrough(
      await agentWith('$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)'),
    );
    expect(backtracking).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(backtracking.error).toMatch(/^TRANSFORM_TIMEOUT: the transform ran longer than 2000 ms/);
    expect(ranForMs(recursion)).toBeLessThan(WITHIN_LIMITS_MS);
    expect(ranForMs(backtracking)).toBeGreaterThanOrEqual(2_000);
    expect(ranForMs(backtracking)).toBeLessThan(WITHIN_LIMITS_MS);
    await stillWorking();
  });

  it("one whose result is over 1 MB of JSON: FAILED with TRANSFORM_RESULT_TOO_LARGE", async () => {
    const execution = await runThrough(await agentWith('$pad("x", 1000001)'));
    expect(execution).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(execution.error).toMatch(/^TRANSFORM_RESULT_TOO_LARGE: .* 1000003 characters of JSON, over the limit/);
    await stillWorking();
  });
});

describe("an execution whose worker died twice while running it", () => {
  /**
   * An execution left as a worker that died while running it leaves it (RUNNING, started `starts` times, of which
   * `interrupted` before the last never finished), and its job handed out again, as pg-boss does after the expiry.
   */
  async function leftRunning(starts: number, interrupted: number) {
    const { agentId } = await agentWith('{ "checked": n }');
    const execution = await prisma.agentExecution.create({
      data: {
        tenantId: admin.tenant.id,
        agentId: uuidOf(agentId),
        status: "RUNNING",
        payload: { n: 7 },
        rawBody: '{"n":7}',
        startedAt: new Date(),
        attempts: starts,
        interruptedStarts: interrupted,
      },
    });
    await insertJobs({ query: (statement) => pool.query(statement) }, [
      { name: EXECUTION_QUEUE, data: { executionId: execution.id } },
    ]);
    return execution.id;
  }

  const eventsOf = (executionId: string) =>
    prisma.event.count({ where: { idempotencyKey: { startsWith: `execution:${executionId}:` } } });

  it("is marked FAILED at its third start, without running", async () => {
    const executionId = await leftRunning(2, 1);
    const execution = await finished(executionId);
    expect(execution).toMatchObject({ status: "FAILED", attempts: 2 });
    expect(execution.error).toBe("EXECUTION_QUARANTINED: the worker died twice while running it; it is not run again");
    expect(await eventsOf(executionId)).toBe(0);
  });

  it("runs at its second start, after one that never finished", async () => {
    const executionId = await leftRunning(1, 0);
    const execution = await finished(executionId);
    expect(execution).toMatchObject({ status: "SUCCEEDED", attempts: 2, interruptedStarts: 1 });
    expect(await eventsOf(executionId)).toBe(1);
  });
});
