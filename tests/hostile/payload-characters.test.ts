import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { signWebhook } from "../../src/lib/webhook-signature.js";
import { type RunningApiServer, startInboundApiServer } from "../support/api-server.js";
import { execute } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { seed, seedEventType } from "../support/seed.js";

// PostgreSQL's jsonb refuses "\u0000" and unpaired surrogates; a text column refuses NUL. Each must be a typed
// refusal naming the input (and where inside it), never INTERNAL, never a 5xx, never half of a batch written.

const NUL = "\u0000";
const LONE_HIGH = "\ud800";
const LONE_LOW = "\udc00";

let api: RunningApiServer;
beforeAll(async () => {
  api = await startInboundApiServer();
});
afterAll(async () => {
  await api.close();
});

type Result = { __typename: string; code?: string; field?: string | null; message?: string };

const PUBLISH = `mutation ($input: PublishEventInput!) {
  publishEvent(input: $input) { __typename ... on Error { code field message } }
}`;

async function tenant() {
  const seeded = await seed.tenantWithKey();
  await seedEventType(seeded.tenant.id, "order.created");
  return seeded;
}

describe("over GraphQL: a ValidationError naming the input and the JSON pointer", () => {
  it.each([
    ["a NUL in a string", { note: `a${NUL}b` }, "/note", "NUL"],
    [
      "a lone high surrogate deep in a list",
      { items: [{ ok: "fine" }, { tags: ["x", `y${LONE_HIGH}`] }] },
      "/items/1/tags/1",
      "surrogate",
    ],
    ["a lone low surrogate", { name: `${LONE_LOW}z` }, "/name", "surrogate"],
    ["a NUL in an object key", { outer: { [`k${NUL}`]: 1 } }, "/outer/k\\u0000", "NUL"],
    ["the payload itself a NUL string", NUL, "", "NUL"],
  ])("publishEvent refuses %s and writes nothing", async (_case, payload, pointer, what) => {
    const { tenant: owner, headers } = await tenant();
    const result = await execute<{ publishEvent: Result }>(
      PUBLISH,
      { input: { eventType: "order.created", payload } },
      headers,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.publishEvent).toMatchObject({
      __typename: "ValidationError",
      code: "VALIDATION_FAILED",
      field: "payload",
    });
    const message = result.data?.publishEvent.message ?? "";
    expect(message).toContain(what);
    if (pointer) expect(message).toContain(`payload at ${pointer} `);
    expect(await prisma.event.count({ where: { tenantId: owner.id } })).toBe(0);
  });

  it("publishEvents names the event's index and writes none of the batch", async () => {
    const { tenant: owner, headers } = await tenant();
    const events = [0, 1, 2, 3].map((index) => ({
      eventType: "order.created",
      payload: index === 2 ? { deep: { deeper: [`bad${LONE_HIGH}`] } } : { index },
    }));
    const result = await execute<{ publishEvents: Result }>(
      `mutation ($events: [PublishEventInput!]!) { publishEvents(events: $events) { __typename ... on Error { code field message } } }`,
      { events },
      headers,
    );
    expect(result.data?.publishEvents).toMatchObject({ __typename: "ValidationError", field: "events.2.payload" });
    expect(result.data?.publishEvents.message).toContain("/deep/deeper/0");
    expect(await prisma.event.count({ where: { tenantId: owner.id } })).toBe(0);
  });

  it("refuses a lone surrogate but stores its pair (emoji) and a literal backslash-u text", async () => {
    const { headers } = await tenant();
    const refused = await execute<{ publishEvent: Result }>(
      PUBLISH,
      { input: { eventType: "order.created", payload: { emoji: "\ud83d" } } },
      headers,
    );
    expect(refused.data?.publishEvent).toMatchObject({ __typename: "ValidationError", field: "payload" });
    const payload = { emoji: "\ud83d\ude00", text: "\\u0000 is how JSON writes NUL", "🔑": "\\ud800" };
    const result = await execute<{ publishEvent: Result & { event: { payload: unknown } } }>(
      `mutation ($input: PublishEventInput!) { publishEvent(input: $input) { __typename ... on PublishedEvent { event { payload } } } }`,
      { input: { eventType: "order.created", payload } },
      headers,
    );
    expect(result.data?.publishEvent).toEqual({ __typename: "PublishedEvent", event: { payload } });
  });

  it("refuses the idempotency key and event type name too (plain text columns refuse NUL)", async () => {
    const { headers } = await tenant();
    const key = await execute<{ publishEvent: Result }>(
      PUBLISH,
      { input: { eventType: "order.created", payload: {}, idempotencyKey: `k${NUL}` } },
      headers,
    );
    expect(key.data?.publishEvent).toMatchObject({ __typename: "ValidationError", field: "idempotencyKey" });
    const type = await execute<{ publishEvent: Result }>(
      PUBLISH,
      { input: { eventType: `order${NUL}`, payload: {} } },
      headers,
    );
    expect(type.data?.publishEvent).toMatchObject({ __typename: "ValidationError", field: "eventType" });
  });

  it.each([
    [
      "createEventType schema",
      `mutation ($input: CreateEventTypeInput!) { createEventType(input: $input) { __typename ... on Error { code field message } } }`,
      { input: { name: "thing.happened", schema: { type: "object", description: `x${NUL}` } } },
      "createEventType",
      "schema",
    ],
    [
      "createEventType description",
      `mutation ($input: CreateEventTypeInput!) { createEventType(input: $input) { __typename ... on Error { code field message } } }`,
      { input: { name: "thing.described", description: `about${NUL}` } },
      "createEventType",
      "description",
    ],
    [
      "createAgent payloadSchema",
      `mutation ($input: CreateAgentInput!) { createAgent(input: $input) { __typename ... on Error { code field message } } }`,
      { input: { name: "agent-x", payloadSchema: { type: "object", title: LONE_LOW } } },
      "createAgent",
      "payloadSchema",
    ],
    [
      "createAgent name",
      `mutation ($input: CreateAgentInput!) { createAgent(input: $input) { __typename ... on Error { code field message } } }`,
      { input: { name: `agent${NUL}` } },
      "createAgent",
      "name",
    ],
    [
      "createEndpoint header value",
      `mutation ($input: CreateEndpointInput!) { createEndpoint(input: $input) { __typename ... on Error { code field message } } }`,
      { input: { name: "ep", url: "https://example.com/in", headers: { "x-token": `t${NUL}` } } },
      "createEndpoint",
      "headers",
    ],
    [
      "createEndpoint description",
      `mutation ($input: CreateEndpointInput!) { createEndpoint(input: $input) { __typename ... on Error { code field message } } }`,
      { input: { name: "ep", url: "https://example.com/in", description: `d${LONE_HIGH}` } },
      "createEndpoint",
      "description",
    ],
  ])("%s: ValidationError on the field, nothing stored", async (_case, mutation, variables, fieldName, field) => {
    const { tenant: owner, headers } = await tenant();
    const result = await execute<Record<string, Result>>(mutation, variables, headers);
    expect(result.errors).toBeUndefined();
    expect(result.data?.[fieldName]).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED", field });
    const stored = await Promise.all([
      prisma.eventType.count({ where: { tenantId: owner.id } }),
      prisma.agent.count({ where: { tenantId: owner.id } }),
      prisma.endpoint.count({ where: { tenantId: owner.id } }),
    ]);
    // The seeded order.created type is the only row.
    expect(stored).toEqual([1, 0, 0]);
  });

  it("a query argument is refused with the same code, not INTERNAL_SERVER_ERROR", async () => {
    const { headers } = await tenant();
    const result = await execute(
      `query ($type: String) { events(eventType: $type) { edges { node { id } } } }`,
      {
        type: `order${NUL}`,
      },
      headers,
    );
    expect(result.status).toBeLessThan(500);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "VALIDATION_FAILED", field: "eventType" });
  });
});

describe("on the inbound route: 400 INVALID_JSON with the JSON pointer", () => {
  async function agent() {
    const { headers } = await seed.tenantWithKey();
    const created = await execute<{ createAgent: { secret: string; agent: { id: string } } }>(
      `mutation ($input: CreateAgentInput!) { createAgent(input: $input) { ... on CreatedAgent { secret agent { id } } } }`,
      { input: { name: `agent-${randomBytes(3).toString("hex")}`, status: "ACTIVE" } },
      headers,
    );
    const { secret, agent: created_ } = created.data?.createAgent ?? { secret: "", agent: { id: "" } };
    return { agentId: created_.id, secret };
  }

  async function postSigned(agentId: string, secret: string, body: string) {
    const response = await fetch(`${api.httpUrl}/agents/${agentId}/webhook`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...signWebhook({
          msgId: `msg_${randomBytes(8).toString("hex")}`,
          timestamp: new Date(),
          body,
          secrets: [secret],
        }),
      },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  }

  it.each([
    ['{"ticket":{"title":"a\\u0000b"}}', "/ticket/title", "NUL"],
    ['{"list":[1,"\\ud800"]}', "/list/1", "surrogate"],
    ['{"\\udc00key":true}', "/\\udc00key", "surrogate"],
    ['"\\u0000"', "/", "NUL"],
  ])("a correctly signed %s gets 400 at %s and stores nothing", async (body, pointer, what) => {
    const { agentId, secret } = await agent();
    const result = await postSigned(agentId, secret, body);
    expect(result).toMatchObject({ status: 400, body: { status: "error", code: "INVALID_JSON", field: pointer } });
    expect(result.body.message).toContain(what);
    expect(await prisma.agentExecution.count({ where: { agentId: uuidOf(agentId) } })).toBe(0);
  });

  it("refuses an unpaired surrogate but accepts a pair and an escaped backslash before u0000", async () => {
    const { agentId, secret } = await agent();
    const refused = await postSigned(agentId, secret, '{"emoji":"\\ude00\\ud83d"}');
    expect(refused).toMatchObject({ status: 400, body: { code: "INVALID_JSON", field: "/emoji" } });
    const result = await postSigned(agentId, secret, '{"emoji":"\\ud83d\\ude00","text":"\\\\u0000"}');
    expect(result.status).toBe(202);
    const execution = await prisma.agentExecution.findFirstOrThrow({ where: { agentId: uuidOf(agentId) } });
    expect(execution.payload).toEqual({ emoji: "😀", text: "\\u0000" });
  });
});
