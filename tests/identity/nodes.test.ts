import { describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { NO_ROW_ID, type NodeType, parseGlobalId } from "../../src/lib/ids.js";
import { execute } from "../support/graphql.js";
import { gid, uuidOf } from "../support/ids.js";
import { outboundApi } from "../support/outbound-api.js";
import { type SeededKey, seed, seedEventType } from "../support/seed.js";

const NODE = `query ($id: ID!) { node(id: $id) { __typename id } }`;
const NODES = `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`;

type NodeData = { node: { __typename: string; id: string } | null };
type NodesData = { nodes: ({ __typename: string; id: string } | null)[] };

/** One object of every node type in a fresh tenant, each named by the id the API gave (or would give) for it. */
async function tenantWithOneOfEach(): Promise<{ owner: SeededKey; ids: Record<NodeType, string> }> {
  const owner = await seed.tenantWithKey();
  const api = outboundApi(owner.headers);
  const tenantId = owner.tenant.id;
  await seedEventType(tenantId, "order.created");
  const endpoint = await api.createEndpoint({ url: "https://receiver.example/hooks", eventTypes: ["order.created"] });
  const published = await api.publish({ eventType: "order.created", payload: { n: 1 } });
  const delivery = await prisma.delivery.findFirstOrThrow({ where: { tenantId, eventId: uuidOf(published.event.id) } });
  const attempt = await prisma.deliveryAttempt.create({
    data: {
      tenantId,
      deliveryId: delivery.id,
      endpointId: delivery.endpointId,
      number: 1,
      trigger: "MANUAL",
      durationMs: 5,
    },
  });
  const agent = await api.run<{ createAgent: { agent: { id: string } } }>(
    `mutation { createAgent(input: { name: "helpdesk" }) { ... on CreatedAgent { agent { id } } } }`,
  );
  const agentId = agent.createAgent.agent.id;
  const execution = await prisma.agentExecution.create({
    data: { tenantId, agentId: uuidOf(agentId), payload: {}, rawBody: "{}" },
  });
  const eventType = await prisma.eventType.findFirstOrThrow({ where: { tenantId, name: "order.created" } });
  const audit = await prisma.auditEntry.findFirstOrThrow({ where: { tenantId } });
  return {
    owner,
    ids: {
      Agent: agentId,
      AgentExecution: gid("AgentExecution", execution.id),
      ApiKey: gid("ApiKey", owner.apiKey.id),
      AuditEntry: gid("AuditEntry", audit.id),
      Delivery: gid("Delivery", delivery.id),
      DeliveryAttempt: gid("DeliveryAttempt", attempt.id),
      Endpoint: endpoint.id,
      Event: published.event.id,
      EventType: gid("EventType", eventType.id),
      Tenant: gid("Tenant", tenantId),
    },
  };
}

describe("global ids", () => {
  it("are opaque base64url strings that name their type, and the API hands them out", async () => {
    const { ids } = await tenantWithOneOfEach();
    for (const [type, id] of Object.entries(ids)) {
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(parseGlobalId(id)?.type).toBe(type);
    }
  });
});

describe("node(id:)", () => {
  it("resolves an object of every type in the caller's tenant", async () => {
    const { owner, ids } = await tenantWithOneOfEach();
    for (const [type, id] of Object.entries(ids)) {
      const result = await execute<NodeData>(NODE, { id }, owner.headers);
      expect(result.errors, type).toBeUndefined();
      expect(result.data?.node).toEqual({ __typename: type, id });
    }
    // A node's own fields and relations load as on the typed fields.
    const delivery = await execute<{ node: { endpoint: { id: string }; event: { id: string } } }>(
      `query ($id: ID!) { node(id: $id) { ... on Delivery { endpoint { id } event { id } } } }`,
      { id: ids.Delivery },
      owner.headers,
    );
    expect(delivery.data?.node).toEqual({ endpoint: { id: ids.Endpoint }, event: { id: ids.Event } });
  });

  it("answers null for another tenant's object of every type, exactly like a missing one", async () => {
    const { ids } = await tenantWithOneOfEach();
    const other = await seed.tenantWithKey();
    for (const [type, id] of Object.entries(ids)) {
      const foreign = await execute<NodeData>(NODE, { id }, other.headers);
      const missing = await execute<NodeData>(
        NODE,
        { id: gid(type as NodeType, "5f0c7a3e-0000-4000-8000-000000000000") },
        other.headers,
      );
      expect(foreign, type).toEqual(missing);
      expect(foreign.data?.node, type).toBeNull();
      expect(foreign.errors, type).toBeUndefined();
    }
  });

  it("answers null for malformed ids, bare uuids and ids of an unknown type", async () => {
    const { owner, ids } = await tenantWithOneOfEach();
    const bare = uuidOf(ids.Endpoint);
    // Padded, or with a trailing character base64 decoders ignore: the id is spelt one way only.
    const padded = `${ids.Endpoint}==`;
    const trailing = `${ids.Endpoint}A`;
    const unknownType = Buffer.from(`Webhook:${bare}`).toString("base64url");
    for (const id of [bare, "", "not-an-id", "!!!", NO_ROW_ID, unknownType, padded, trailing, "x".repeat(10_000)]) {
      const result = await execute<NodeData>(NODE, { id }, owner.headers);
      expect(result.errors, id.slice(0, 40)).toBeUndefined();
      expect(result.data?.node, id.slice(0, 40)).toBeNull();
    }
  });

  it("never finds an object through an id of another type (the typed fields answer NOT_FOUND)", async () => {
    const { owner, ids } = await tenantWithOneOfEach();
    const endpointAsAgent = gid("Agent", uuidOf(ids.Endpoint));
    expect((await execute<NodeData>(NODE, { id: endpointAsAgent }, owner.headers)).data?.node).toBeNull();
    const typed = await execute<{ endpoint: { __typename: string } }>(
      `query ($id: ID!) { endpoint(id: $id) { __typename } }`,
      { id: gid("Delivery", uuidOf(ids.Endpoint)) },
      owner.headers,
    );
    expect(typed.data?.endpoint.__typename).toBe("NotFoundError");
    const bare = await execute<{ endpoint: { __typename: string } }>(
      `query ($id: ID!) { endpoint(id: $id) { __typename } }`,
      { id: uuidOf(ids.Endpoint) },
      owner.headers,
    );
    expect(bare.data?.endpoint.__typename).toBe("NotFoundError");
  });

  it("applies the caller's scopes: FORBIDDEN for a type the caller may not read, decided before any lookup", async () => {
    const { owner, ids } = await tenantWithOneOfEach();
    const reader = await seed.keyFor(owner.tenant, { scopes: ["endpoints:read"] });
    const allowed = await execute<NodeData>(NODE, { id: ids.Endpoint }, reader.headers);
    expect(allowed.data?.node).toEqual({ __typename: "Endpoint", id: ids.Endpoint });
    for (const id of [ids.Delivery, gid("Delivery", "5f0c7a3e-0000-4000-8000-000000000000")]) {
      const refused = await execute<NodeData>(NODE, { id }, reader.headers);
      expect(refused.data?.node).toBeNull();
      expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
    // The caller's own tenant is readable with any scope.
    const tenant = await execute<NodeData>(NODE, { id: ids.Tenant }, reader.headers);
    expect(tenant.data?.node).toEqual({ __typename: "Tenant", id: ids.Tenant });
    // Without a credential: UNAUTHENTICATED, like every other field.
    const anonymous = await execute<NodeData>(NODE, { id: ids.Endpoint });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("nodes(ids:)", () => {
  it("answers each id in order: found, null for foreign or malformed, FORBIDDEN items alone", async () => {
    const { owner, ids } = await tenantWithOneOfEach();
    const other = await tenantWithOneOfEach();
    const all = Object.values(ids);
    const result = await execute<NodesData>(
      NODES,
      { ids: [...all, other.ids.Endpoint, "junk", all[0]] },
      owner.headers,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.nodes.map((node) => node?.id ?? null)).toEqual([...all, null, null, all[0]]);

    const reader = await seed.keyFor(owner.tenant, { scopes: ["endpoints:read"] });
    const mixed = await execute<NodesData>(NODES, { ids: [ids.Endpoint, ids.Delivery, ids.EventType] }, reader.headers);
    expect(mixed.data?.nodes.map((node) => node?.id ?? null)).toEqual([ids.Endpoint, null, ids.EventType]);
    expect(mixed.errors?.map((error) => [error.path, error.extensions?.code])).toEqual([[["nodes", 1], "FORBIDDEN"]]);
  });

  it("refuses more than 100 ids with a typed error naming the argument and the limit", async () => {
    const { owner, ids } = await tenantWithOneOfEach();
    const ok = await execute<NodesData>(NODES, { ids: Array(100).fill(ids.Endpoint) }, owner.headers);
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.nodes).toHaveLength(100);
    const refused = await execute<NodesData>(NODES, { ids: Array(101).fill(ids.Endpoint) }, owner.headers);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", argument: "ids", limit: 100 });
  });

  it("shows another tenant only to the instance's operator", async () => {
    const { ids } = await tenantWithOneOfEach();
    const tenantAdmin = await seed.tenantWithKey();
    const operator = await seed.tenantWithKey({ scopes: ["admin", "instance:admin"] });
    expect((await execute<NodeData>(NODE, { id: ids.Tenant }, tenantAdmin.headers)).data?.node).toBeNull();
    expect((await execute<NodeData>(NODE, { id: ids.Tenant }, operator.headers)).data?.node).toEqual({
      __typename: "Tenant",
      id: ids.Tenant,
    });
    // The operator's reach is tenants only: another tenant's endpoint stays null.
    expect((await execute<NodeData>(NODE, { id: ids.Endpoint }, operator.headers)).data?.node).toBeNull();
  });
});
