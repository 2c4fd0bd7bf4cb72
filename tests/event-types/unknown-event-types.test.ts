import { describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { execute } from "../support/graphql.js";
import { seed, seedEventType } from "../support/seed.js";

// Endpoint filters and emitEvent actions match event type names exactly (there is no wildcard syntax), so a name that
// is not one of the tenant's types would be saved and silently never match, or fail every execution.

type Refusal = { __typename: string; code?: string; field?: string; message?: string };

const CREATE_ENDPOINT = `mutation ($input: CreateEndpointInput!) { createEndpoint(input: $input) {
  __typename ... on CreatedEndpoint { endpoint { id eventTypes } } ... on Error { code field message } } }`;
const UPDATE_ENDPOINT = `mutation ($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) {
  __typename ... on Endpoint { eventTypes } ... on Error { code field message } } }`;
const CREATE_AGENT = `mutation ($input: CreateAgentInput!) { createAgent(input: $input) {
  __typename ... on CreatedAgent { agent { id } } ... on Error { code field message } } }`;
const UPDATE_AGENT = `mutation ($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) {
  __typename ... on Error { code field message } } }`;

async function tenantWithOrderTypes() {
  const { tenant, headers } = await seed.tenantWithKey();
  await seedEventType(tenant.id, "order.created");
  await seedEventType(tenant.id, "order.shipped");
  return { tenant, headers };
}

async function createEndpoint(headers: Record<string, string>, eventTypes: string[]) {
  const result = await execute<{ createEndpoint: Refusal & { endpoint?: { id: string; eventTypes: string[] } } }>(
    CREATE_ENDPOINT,
    { input: { name: `hooks-${eventTypes.length}-${Math.random()}`, url: "https://hooks.example.com/in", eventTypes } },
    headers,
  );
  expect(result.errors).toBeUndefined();
  return result.data?.createEndpoint;
}

describe("endpoint filters name existing event types", () => {
  it("refuses a typo on create, naming the field and suggesting the close type, and stores nothing", async () => {
    const { tenant, headers } = await tenantWithOrderTypes();
    const refused = await createEndpoint(headers, ["order.shipped", "order.craeted"]);
    expect(refused).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED", field: "eventTypes.1" });
    expect(refused?.message).toContain('unknown event type "order.craeted": did you mean order.created?');
    expect(await prisma.endpoint.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it("says to create a type when nothing is close, and accepts known types and the empty filter (all types)", async () => {
    const { headers } = await tenantWithOrderTypes();
    const refused = await createEndpoint(headers, ["invoice.paid"]);
    expect(refused).toMatchObject({ __typename: "ValidationError", field: "eventTypes.0" });
    expect(refused?.message).toContain("create it first");
    expect(await createEndpoint(headers, ["order.created"])).toMatchObject({ __typename: "CreatedEndpoint" });
    expect(await createEndpoint(headers, [])).toMatchObject({ __typename: "CreatedEndpoint" });
  });

  it("does not accept another tenant's type names, nor wildcards", async () => {
    await tenantWithOrderTypes();
    const { tenant, headers } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    expect(await createEndpoint(headers, ["order.shipped"])).toMatchObject({ field: "eventTypes.0" });
    expect(await createEndpoint(headers, ["order.*"])).toMatchObject({ __typename: "ValidationError" });
  });

  it("refuses unknown and newly archived types on update, and keeps an archived type the filter already had", async () => {
    const { tenant, headers } = await tenantWithOrderTypes();
    const created = await createEndpoint(headers, ["order.created", "order.shipped"]);
    const id = created?.endpoint?.id;
    const update = (eventTypes: string[]) =>
      execute<{ updateEndpoint: Refusal & { eventTypes?: string[] } }>(
        UPDATE_ENDPOINT,
        { id, input: { eventTypes } },
        headers,
      );

    const typo = await update(["order.created", "order.shiped"]);
    expect(typo.data?.updateEndpoint).toMatchObject({ __typename: "ValidationError", field: "eventTypes.1" });
    expect(typo.data?.updateEndpoint.message).toContain("did you mean order.shipped?");

    const archived = await seedEventType(tenant.id, "order.refunded");
    await prisma.eventType.update({ where: { id: archived.id }, data: { archivedAt: new Date() } });
    const adding = await update(["order.created", "order.refunded"]);
    expect(adding.data?.updateEndpoint).toMatchObject({ __typename: "ValidationError", field: "eventTypes.1" });
    expect(adding.data?.updateEndpoint.message).toContain("archived");

    await prisma.eventType.updateMany({
      where: { tenantId: tenant.id, name: "order.shipped" },
      data: { archivedAt: new Date() },
    });
    const keeping = await update(["order.shipped", "order.created"]);
    expect(keeping.data?.updateEndpoint).toEqual({
      __typename: "Endpoint",
      eventTypes: ["order.shipped", "order.created"],
    });
  });
});

describe("emitEvent actions name existing event types", () => {
  it("refuses an unknown type on createAgent with the action's field and a suggestion", async () => {
    const { tenant, headers } = await tenantWithOrderTypes();
    const result = await execute<{ createAgent: Refusal }>(
      CREATE_AGENT,
      { input: { name: "shop", actions: [{ type: "relay" }, { type: "emitEvent", eventType: "order.creatd" }] } },
      headers,
    );
    expect(result.data?.createAgent).toMatchObject({
      __typename: "ValidationError",
      code: "VALIDATION_FAILED",
      field: "actions.1.eventType",
    });
    expect(result.data?.createAgent.message).toContain("did you mean order.created?");
    expect(await prisma.agent.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it("refuses an unknown type on updateAgent, and accepts a known one", async () => {
    const { headers } = await tenantWithOrderTypes();
    const created = await execute<{ createAgent: { agent: { id: string } } }>(
      CREATE_AGENT,
      { input: { name: "shop", actions: [{ type: "emitEvent", eventType: "order.created" }] } },
      headers,
    );
    const id = created.data?.createAgent.agent.id;
    const refused = await execute<{ updateAgent: Refusal }>(
      UPDATE_AGENT,
      { id, input: { actions: [{ type: "emitEvent", eventType: "ticket.opened" }] } },
      headers,
    );
    expect(refused.data?.updateAgent).toMatchObject({ __typename: "ValidationError", field: "actions.0.eventType" });
    const accepted = await execute<{ updateAgent: Refusal }>(
      UPDATE_AGENT,
      { id, input: { actions: [{ type: "emitEvent", eventType: "order.shipped" }] } },
      headers,
    );
    expect(accepted.data?.updateAgent.__typename).toBe("Agent");
  });
});
