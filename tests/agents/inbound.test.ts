import { randomBytes } from "node:crypto";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { pool, prisma } from "../../src/db/prisma.js";
import { allJobs } from "../../src/jobs/index.js";
import { type JobQueue, startJobQueue } from "../../src/jobs/kit/queue.js";
import { signGitHub, signWebhook, verifyStandardWebhook } from "../../src/lib/webhook-signature.js";
import { logger } from "../../src/logger.js";
import { type RunningApiServer, startApiServer, startSubscriptions } from "../support/api-server.js";
import { execute } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";
import { subscribersJoined } from "../support/subscribers.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

let api: RunningApiServer;
let jobs: JobQueue;
let delivering: Delivering;
let stopSubscriptions: () => Promise<void>;
beforeAll(async () => {
  jobs = await startJobQueue(process.env.DATABASE_URL as string, allJobs, logger);
  api = await startApiServer(undefined, { jobs });
  delivering = await startDelivering();
  stopSubscriptions = await startSubscriptions();
});
afterAll(async () => {
  await stopSubscriptions();
  await delivering.stop();
  await jobs.stop(1_000);
  await api.close();
});

/** A tenant with an ACTIVE agent (and whatever else the input sets); returns its id, secret and the tenant's API. */
/** An ACTIVE agent in a new tenant; `eventTypes` are created first (an emitEvent action must name an existing one). */
async function activeAgent(input: Record<string, unknown> = {}, eventTypes: string[] = []) {
  const { tenant, headers } = await seed.tenantWithKey();
  for (const name of eventTypes) await seedEventType(tenant.id, name);
  const created = await execute<{ createAgent: { secret: string; agent: { id: string } } }>(
    `mutation ($input: CreateAgentInput!) { createAgent(input: $input) { ... on CreatedAgent { secret agent { id } } ... on Error { message } } }`,
    { input: { name: `agent-${randomBytes(3).toString("hex")}`, status: "ACTIVE", ...input } },
    headers,
  );
  const { secret, agent } = created.data?.createAgent ?? { secret: "", agent: { id: "" } };
  return { tenant, headers, agentId: agent.id, secret };
}

async function post(agentId: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${api.httpUrl}/agents/${agentId}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: (await response.json()) as Record<string, string>,
  };
}

function signed(secret: string, body: string, options: { msgId?: string; at?: Date } = {}) {
  return signWebhook({
    msgId: options.msgId ?? `msg_${randomBytes(8).toString("hex")}`,
    timestamp: options.at ?? new Date(),
    body,
    secrets: [secret],
  });
}

describe("POST /agents/:id/webhook refusals, in the documented order", () => {
  it("413 for a body over 1 MB", async () => {
    const { agentId, secret } = await activeAgent();
    const body = JSON.stringify({ blob: "x".repeat(1_100_000) });
    const result = await post(agentId, body, signed(secret, body));
    expect(result).toMatchObject({ status: 413, body: { status: "error", code: "PAYLOAD_TOO_LARGE" } });
  });

  it("404 for an unknown or malformed id, 403 for an agent that is not ACTIVE", async () => {
    expect((await post("not-a-uuid", "{}")).body).toMatchObject({ status: "error", code: "AGENT_NOT_FOUND" });
    expect((await post("5f0c7a3e-0000-4000-8000-000000000000", "{}")).status).toBe(404);
    const { agentId, secret, headers } = await activeAgent();
    await execute(
      `mutation ($id: ID!) { updateAgent(id: $id, input: { status: SUSPENDED }) { __typename } }`,
      { id: agentId },
      headers,
    );
    const result = await post(agentId, "{}", signed(secret, "{}"));
    expect(result).toMatchObject({
      status: 403,
      body: { code: "AGENT_NOT_ACTIVE", message: "the agent is suspended" },
    });
  });

  it("429 with Retry-After past the agent's rate", async () => {
    const { agentId, secret } = await activeAgent({ rateLimitPerMinute: 2 });
    for (let i = 0; i < 2; i += 1) expect((await post(agentId, "{}", signed(secret, "{}"))).status).toBe(202);
    const limited = await post(agentId, "{}", signed(secret, "{}"));
    expect(limited).toMatchObject({ status: 429, body: { code: "RATE_LIMITED" } });
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
  });

  it("401 naming the failed check: missing, invalid, stale, replayed", async () => {
    const { agentId, secret } = await activeAgent();
    const body = '{"a":1}';
    expect((await post(agentId, body)).body).toMatchObject({ code: "SIGNATURE_MISSING" });
    const wrongSecret = randomBytes(32).toString("base64");
    expect((await post(agentId, body, signed(wrongSecret, body))).body).toMatchObject({ code: "SIGNATURE_INVALID" });
    expect((await post(agentId, '{"a":2}', signed(secret, body))).body).toMatchObject({ code: "SIGNATURE_INVALID" });
    const old = signed(secret, body, { at: new Date(Date.now() - 6 * 60_000) });
    expect((await post(agentId, body, old)).body).toMatchObject({ code: "TIMESTAMP_STALE" });
    const future = signed(secret, body, { at: new Date(Date.now() + 6 * 60_000) });
    expect((await post(agentId, body, future)).body).toMatchObject({ code: "TIMESTAMP_STALE" });
    const once = signed(secret, body, { msgId: "msg_only_once" });
    expect((await post(agentId, body, once)).status).toBe(202);
    const replay = await post(agentId, body, once);
    expect(replay).toMatchObject({ status: 401, body: { code: "REPLAYED" } });
    expect(JSON.stringify(replay.body)).not.toContain(secret);
  });

  it("refuses the old secret as soon as it is regenerated", async () => {
    const { agentId, secret: oldSecret, headers } = await activeAgent();
    expect((await post(agentId, "{}", signed(oldSecret, "{}"))).status).toBe(202);
    const regenerated = await execute<{ regenerateAgentSecret: { secret: string } }>(
      `mutation ($id: ID!) { regenerateAgentSecret(id: $id) { ... on CreatedAgent { secret } } }`,
      { id: agentId },
      headers,
    );
    const newSecret = regenerated.data?.regenerateAgentSecret.secret ?? "";
    expect((await post(agentId, "{}", signed(oldSecret, "{}"))).body).toMatchObject({ code: "SIGNATURE_INVALID" });
    expect((await post(agentId, "{}", signed(newSecret, "{}"))).status).toBe(202);
  });

  it("decides on the agent's current row when it was changed behind this process's back (another instance)", async () => {
    // The server remembers agents between requests; these writes go straight to the database, as another instance's
    // would, and must be seen at the very next request in both directions.
    const { agentId, secret } = await activeAgent();
    const setAgent = (assignments: string) =>
      pool.query(`UPDATE "Agent" SET ${assignments} WHERE id = $1`, [uuidOf(agentId)]);
    const send = () => post(agentId, '{"n":1}', signed(secret, '{"n":1}'));
    expect((await send()).status).toBe(202);
    await setAgent(`status = 'SUSPENDED'`);
    expect((await send()).body).toMatchObject({ code: "AGENT_NOT_ACTIVE" });
    await setAgent(`status = 'ACTIVE'`);
    expect((await send()).status).toBe(202);
    await setAgent(`"payloadSchema" = '{"type": "object", "required": ["order"]}'`);
    expect((await send()).body).toMatchObject({ code: "SCHEMA_MISMATCH" });
    // This minute's requests have already spent more than the new limit of 1.
    await setAgent(`"payloadSchema" = NULL, "rateLimitPerMinute" = 1`);
    expect((await send()).body).toMatchObject({ code: "RATE_LIMITED" });
    expect(await prisma.agentExecution.count({ where: { agentId: uuidOf(agentId) } })).toBe(2);
  });

  it("accepts GitHub's X-Hub-Signature-256 and refuses a wrong one (an agent verifying GITHUB)", async () => {
    const { agentId, secret } = await activeAgent({ verification: { scheme: "GITHUB" } });
    const body = '{"action":"opened"}';
    const delivery = { "x-github-delivery": randomBytes(16).toString("hex") };
    expect((await post(agentId, body, { "x-hub-signature-256": signGitHub(body, secret), ...delivery })).status).toBe(
      202,
    );
    expect(
      (await post(agentId, body, { "x-hub-signature-256": signGitHub(body, "nope"), ...delivery })).body,
    ).toMatchObject({
      code: "SIGNATURE_INVALID",
    });
  });

  it("400 naming the limit for a signed body whose structure would expand past its budget, before it is parsed", async () => {
    const { agentId, secret } = await activeAgent();
    const deep = `${"[".repeat(65)}${"]".repeat(65)}`;
    expect(await post(agentId, deep, signed(secret, deep))).toMatchObject({
      status: 400,
      body: { code: "JSON_TOO_DEEP", field: "body", limit: 64, measured: 65 },
    });
    // 1 MB of empty arrays: 300 K of them, a tenth of the bytes' worth of heap each would take parsed.
    const dense = `[${Array.from({ length: 300_000 }, () => "[]").join(",")}]`;
    expect(await post(agentId, dense, signed(secret, dense))).toMatchObject({
      status: 400,
      body: { code: "JSON_TOO_COMPLEX", field: "body", limit: 100_000 },
    });
    const fine = JSON.stringify({ records: Array.from({ length: 1_000 }, (_, id) => ({ id, tags: ["a", "b"] })) });
    expect((await post(agentId, fine, signed(secret, fine))).status).toBe(202);
  });

  it("400 for a body that is not JSON, and for a payload that breaks the schema, with the pointer", async () => {
    const { agentId, secret } = await activeAgent({
      payloadSchema: {
        type: "object",
        required: ["ticket"],
        properties: { ticket: { type: "object", required: ["id"], properties: { id: { type: "integer" } } } },
      },
    });
    expect((await post(agentId, "not json", signed(secret, "not json"))).body).toMatchObject({ code: "INVALID_JSON" });
    const bad = '{"ticket":{"id":"seven"}}';
    const result = await post(agentId, bad, signed(secret, bad));
    expect(result).toMatchObject({
      status: 400,
      body: { code: "SCHEMA_MISMATCH", field: "/ticket/id", message: "payload/ticket/id must be integer" },
    });
  });

  it("another tenant cannot see the agent's executions", async () => {
    const { agentId, secret } = await activeAgent();
    const accepted = await post(agentId, "{}", signed(secret, "{}"));
    const stranger = await seed.tenantWithKey();
    const result = await execute<{ agentExecution: { __typename: string } }>(
      `query ($id: ID!) { agentExecution(id: $id) { __typename } }`,
      { id: accepted.body.executionId },
      stranger.headers,
    );
    expect(result.data?.agentExecution.__typename).toBe("NotFoundError");
  });
});

describe("storing accepted requests in batches", () => {
  it("stores concurrent requests each with its own execution and job, and takes a repeated webhook-id once", async () => {
    const { agentId, secret } = await activeAgent({ rateLimitPerMinute: 10_000 });
    const repeated = signed(secret, '{"n":0}', { msgId: "msg_sent_five_times" });
    const requests = [
      ...Array.from({ length: 40 }, (_, n) => post(agentId, `{"n":${n + 1}}`, signed(secret, `{"n":${n + 1}}`))),
      ...Array.from({ length: 5 }, () => post(agentId, '{"n":0}', repeated)),
    ];
    const results = await Promise.all(requests);
    expect(results.filter((result) => result.status === 202)).toHaveLength(41);
    expect(results.filter((result) => result.body.code === "REPLAYED")).toHaveLength(4);
    const executionIds = results.flatMap((result) => (result.status === 202 ? [result.body.executionId] : []));
    expect(new Set(executionIds).size).toBe(41);
    const stored = await prisma.agentExecution.findMany({
      where: { agentId: uuidOf(agentId) },
      select: { id: true, payload: true },
    });
    expect(stored.map((execution) => execution.id).sort()).toEqual(executionIds.map((id) => uuidOf(id ?? "")).sort());
    const jobs = await pool.query<{ count: string }>(
      `SELECT count(*) FROM pgboss.job WHERE name = 'agent.execute' AND data->>'executionId' = ANY($1)`,
      [executionIds.map((id) => uuidOf(id ?? ""))],
    );
    expect(Number(jobs.rows[0]?.count)).toBe(41);
  });
});

describe("executions", () => {
  it("runs inbound -> transform -> emitEvent -> signed outbound delivery to the receiver", async () => {
    const receiver = await TestReceiver.start();
    const { headers, agentId, secret } = await activeAgent(
      {
        transform: '{ "ticketId": ticket.id, "title": $uppercase(ticket.subject) }',
        actions: [{ type: "emitEvent", eventType: "ticket.opened" }],
      },
      ["ticket.opened"],
    );
    await outboundApi(headers).createEndpoint({ url: receiver.url, eventTypes: ["ticket.opened"] });

    const body = JSON.stringify({ ticket: { id: 7, subject: "printer on fire" } });
    const accepted = await post(agentId, body, { ...signed(secret, body), "user-agent": "helpdesk/1.0" });
    expect(accepted).toMatchObject({ status: 202, body: { status: "queued" } });
    const [request] = await receiver.waitForRequests(1, 20_000);
    expect(JSON.parse(request?.body.toString() ?? "{}")).toMatchObject({
      type: "ticket.opened",
      data: { ticketId: 7, title: "PRINTER ON FIRE" },
    });

    const execution = await until(
      () => prisma.agentExecution.findUniqueOrThrow({ where: { id: uuidOf(accepted.body.executionId ?? "") } }),
      (e) => e.status === "SUCCEEDED",
      "execution",
    );
    expect(execution).toMatchObject({
      attempts: 1,
      sourceIp: expect.stringContaining("127.0.0.1"),
      headers: { "user-agent": "helpdesk/1.0" },
    });
    expect(execution.result).toMatchObject({ actions: [{ type: "emitEvent", deliveryCount: 1 }] });
    await receiver.close();
  });

  it("forwards the original body and chosen headers to an endpoint, signed by the outbound pipeline", async () => {
    const receiver = await TestReceiver.start();
    const { tenant, headers } = await seed.tenantWithKey();
    const endpoint = await outboundApi(headers).createEndpoint({ url: receiver.url });
    const created = await execute<{ createAgent: { secret: string; agent: { id: string } } }>(
      `mutation ($input: CreateAgentInput!) { createAgent(input: $input) { ... on CreatedAgent { secret agent { id } } ... on Error { message } } }`,
      {
        input: {
          name: "relay-to-ci",
          status: "ACTIVE",
          actions: [{ type: "forward", endpointId: endpoint.id, headers: ["X-GitHub-Event"] }],
        },
      },
      headers,
    );
    const { secret, agent } = created.data?.createAgent ?? { secret: "", agent: { id: "" } };
    const original = '{ "action" :  "opened",\n  "number": 12 }';
    const accepted = await post(agent.id, original, { ...signed(secret, original), "x-github-event": "pull_request" });
    expect(accepted.status).toBe(202);

    const [request] = await receiver.waitForRequests(1, 20_000);
    expect(request?.body.toString()).toBe(original);
    expect(request?.headers["x-github-event"]).toBe("pull_request");
    expect(
      verifyStandardWebhook({ headers: request?.headers ?? {}, body: request?.body ?? "", secrets: [endpoint.secret] })
        .ok,
    ).toBe(true);
    const execution = await until(
      () => prisma.agentExecution.findUniqueOrThrow({ where: { id: uuidOf(accepted.body.executionId ?? "") } }),
      (e) => e.status === "SUCCEEDED",
      "execution",
    );
    expect(execution.result).toMatchObject({ actions: [{ type: "forward", deliveryCount: 1 }] });
    expect(await prisma.event.count({ where: { tenantId: tenant.id, eventType: "signalpost.forward" } })).toBe(1);
    await receiver.close();
  });

  it("records a failing action, retries it, and ends FAILED with the error", async () => {
    const { agentId, secret } = await activeAgent();
    // Saved before emitEvent actions were checked against the tenant's event types (createAgent refuses it now).
    await prisma.agent.update({
      where: { id: uuidOf(agentId) },
      data: { actions: [{ type: "emitEvent", eventType: "never.registered" }] },
    });
    const accepted = await post(agentId, "{}", signed(secret, "{}"));
    const execution = await until(
      () => prisma.agentExecution.findUniqueOrThrow({ where: { id: uuidOf(accepted.body.executionId ?? "") } }),
      (e) => e.status === "FAILED",
      "failure",
      30_000,
    );
    expect(execution.attempts).toBe(3);
    expect(execution.error).toContain('unknown event type "never.registered"');
  }, 40_000);

  it("sendTestWebhook signs a sample and sends it through the agent's own URL", async () => {
    const { headers, agentId } = await activeAgent();
    const result = await execute<{
      sendTestWebhook: { statusCode: number; executionId: string; body: { status: string } };
    }>(
      `mutation ($id: ID!) { sendTestWebhook(agentId: $id, payload: { hello: "world" }) { ... on TestWebhookResult { statusCode executionId body } } }`,
      { id: agentId },
      headers,
    );
    expect(result.data?.sendTestWebhook).toMatchObject({ statusCode: 202, body: { status: "queued" } });
    const execution = await prisma.agentExecution.findUniqueOrThrow({
      where: { id: uuidOf(result.data?.sendTestWebhook.executionId ?? "") },
    });
    expect(execution.payload).toEqual({ hello: "world" });
  });
});

describe("relay to live subscribers", () => {
  it("delivers each accepted request to agentWebhookReceived subscribers, body exactly as received", async () => {
    const { agentId, secret, headers } = await activeAgent({ actions: [{ type: "relay" }] });
    const client = createClient({
      url: api.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: headers.authorization },
    });
    const received: { body: string; headers: Record<string, string>; executionId: string }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.subscribe<{
        agentWebhookReceived: { body: string; headers: Record<string, string>; executionId: string };
      }>(
        {
          query: `subscription ($id: ID!) { agentWebhookReceived(agentId: $id) { executionId body headers } }`,
          variables: { id: agentId },
        },
        {
          next: (result) => {
            if (result.errors) reject(new Error(JSON.stringify(result.errors)));
            if (result.data) received.push(result.data.agentWebhookReceived);
            if (received.length === 2) resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    // The subscription must have reached the server before anything is sent.
    await subscribersJoined("agent:webhook", uuidOf(agentId));
    const bodies = ['{"n": 1}', '{ "n" : 2 }'];
    const ids = [];
    for (const body of bodies)
      ids.push((await post(agentId, body, { ...signed(secret, body), "x-github-event": "push" })).body.executionId);
    await done;
    await client.dispose();
    expect(received.map((item) => item.body).sort()).toEqual([...bodies].sort());
    expect(received.map((item) => item.executionId).sort()).toEqual([...ids].sort());
    expect(received[0]?.headers["x-github-event"]).toBe("push");
  });

  it("streams an execution's status changes on agentExecutionUpdated", async () => {
    const { agentId, secret, headers } = await activeAgent({ actions: [{ type: "relay" }] });
    const client = createClient({
      url: api.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: headers.authorization },
    });
    const seen: { id: string; status: string }[] = [];
    const finished = new Promise<void>((resolve, reject) => {
      client.subscribe<{ agentExecutionUpdated: { id: string; status: string } }>(
        {
          query: `subscription ($id: ID!) { agentExecutionUpdated(agentId: $id) { id status } }`,
          variables: { id: agentId },
        },
        {
          next: (result) => {
            if (!result.data) return reject(new Error(JSON.stringify(result.errors)));
            seen.push(result.data.agentExecutionUpdated);
            if (new Set(seen.map((item) => item.status)).size === 2) resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    await subscribersJoined("agent:execution", uuidOf(agentId));
    const accepted = await post(agentId, "{}", signed(secret, "{}"));
    await finished;
    await client.dispose();
    // One announcement per change, each with the status it made.
    expect(seen.map((item) => item.status).sort()).toEqual(["RUNNING", "SUCCEEDED"]);
    expect(new Set(seen.map((item) => item.id))).toEqual(new Set([accepted.body.executionId]));
  });

  it("answers a subscription to another tenant's agent with NOT_FOUND", async () => {
    const { agentId } = await activeAgent({ actions: [{ type: "relay" }] });
    const stranger = await seed.tenantWithKey();
    const client = createClient({
      url: api.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: stranger.headers.authorization },
    });
    const results = [];
    for await (const result of client.iterate({
      query: `subscription { agentWebhookReceived(agentId: "${agentId}") { executionId } }`,
    })) {
      results.push(result);
    }
    await client.dispose();
    expect(results[0]?.errors?.[0]).toMatchObject({ extensions: { code: "NOT_FOUND", field: "agentId" } });
  });
});
