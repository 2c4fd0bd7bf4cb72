import { describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { execute } from "../support/graphql.js";
import { gid, uuidOf } from "../support/ids.js";
import { seed, seedEventType } from "../support/seed.js";

const CREATE = `mutation ($input: CreateAgentInput!) { createAgent(input: $input) {
  __typename ... on CreatedAgent { secret agent { id name status webhookUrl maskedSecret actions } } ... on Error { code field message } } }`;
type Created = {
  createAgent: {
    __typename: string;
    secret: string;
    agent: { id: string; webhookUrl: string; maskedSecret: string; status: string };
    field?: string;
    message?: string;
  };
};

describe("agents", () => {
  it("creates an agent with a URL, a secret shown once and masked afterwards", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "ticket.created");
    const created = await execute<Created>(
      CREATE,
      { input: { name: "helpdesk", actions: [{ type: "emitEvent", eventType: "ticket.created" }] } },
      headers,
    );
    const result = created.data?.createAgent;
    expect(result?.__typename).toBe("CreatedAgent");
    expect(Buffer.from(result?.secret ?? "", "base64")).toHaveLength(32);
    expect(result?.agent).toMatchObject({ status: "DRAFT", maskedSecret: `••••••••${result?.secret.slice(-4)}` });
    expect(result?.agent.webhookUrl).toMatch(new RegExp(`/agents/${result?.agent.id}/webhook$`));
    const row = await prisma.agent.findUniqueOrThrow({ where: { id: uuidOf(result?.agent.id ?? "") } });
    expect(row.encryptedSecret).not.toContain(result?.secret);
  });

  it.each([
    [
      { payloadSchema: { type: "object", properties: { id: { type: "uuid" } } } },
      "payloadSchema",
      "schema/properties/id/type",
    ],
    [{ transform: "$.{ broken" }, "transform", "at character"],
    [{ actions: [{ type: "teleport" }] }, "actions.0.type", "type"],
    [
      { actions: [{ type: "forward", endpointId: gid("Endpoint", "5f0c7a3e-0000-4000-8000-000000000000") }] },
      "actions.0.endpointId",
      "no endpoint",
    ],
    [
      { actions: [{ type: "forward", endpointId: "5f0c7a3e-0000-4000-8000-000000000000" }] },
      "actions.0.endpointId",
      "is not an endpoint id",
    ],
    [
      {
        actions: [
          {
            type: "forward",
            endpointId: gid("Endpoint", "5f0c7a3e-0000-4000-8000-000000000000"),
            headers: ["Authorization"],
          },
        ],
      },
      "actions.0.headers",
      "authorization cannot be forwarded",
    ],
    [{ actions: [{ type: "emitEvent" }] }, "actions.0.eventType", "eventType"],
    [{ actions: { type: "emitEvent" } }, "actions", "must be a list"],
    [{ rateLimitPerMinute: 0 }, "rateLimitPerMinute", "between 1 and 1000000"],
  ])("refuses %j with a ValidationError on %s and writes nothing", async (input, field, message) => {
    const { headers, tenant } = await seed.tenantWithKey();
    const result = await execute<Created>(CREATE, { input: { name: "x", ...input } }, headers);
    expect(result.data?.createAgent).toMatchObject({ __typename: "ValidationError", field });
    expect(result.data?.createAgent.message).toContain(message);
    expect(await prisma.agent.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it("reveals the secret with secrets:reveal only, audited with actor and IP, and regenerates it", async () => {
    const owner = await seed.tenantWithKey({ scopes: ["agents:write", "agents:read"] });
    const created = await execute<Created>(CREATE, { input: { name: "ops" } }, owner.headers);
    const id = created.data?.createAgent.agent.id;
    const reveal = `mutation ($id: ID!) { revealAgentSecret(id: $id) { __typename ... on AgentSecret { secret } } }`;
    expect((await execute(reveal, { id }, owner.headers)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const revealer = await seed.keyFor(owner.tenant, { scopes: ["secrets:reveal"], name: "auditor" });
    const revealed = await execute<{ revealAgentSecret: { secret: string } }>(reveal, { id }, revealer.headers);
    expect(revealed.data?.revealAgentSecret.secret).toBe(created.data?.createAgent.secret);
    const audit = await prisma.auditEntry.findFirstOrThrow({
      where: { action: "agent_secret.revealed", targetId: uuidOf(id ?? "") },
    });
    expect(audit).toMatchObject({ actorId: revealer.apiKey.id, actorName: "auditor" });

    const regenerated = await execute<{ regenerateAgentSecret: { secret: string } }>(
      `mutation ($id: ID!) { regenerateAgentSecret(id: $id) { ... on CreatedAgent { secret } } }`,
      { id },
      owner.headers,
    );
    expect(regenerated.data?.regenerateAgentSecret.secret).not.toBe(created.data?.createAgent.secret);
    expect(
      await prisma.auditEntry.count({ where: { action: "agent_secret.regenerated", targetId: uuidOf(id ?? "") } }),
    ).toBe(1);
  });

  it("answers another tenant's agent as NOT_FOUND", async () => {
    const alice = await seed.tenantWithKey();
    const bob = await seed.tenantWithKey();
    const created = await execute<Created>(CREATE, { input: { name: "private" } }, alice.headers);
    for (const operation of [
      `query ($id: ID!) { agent(id: $id) { __typename } }`,
      `mutation ($id: ID!) { updateAgent(id: $id, input: { status: ACTIVE }) { __typename } }`,
      `mutation ($id: ID!) { revealAgentSecret(id: $id) { __typename } }`,
      `mutation ($id: ID!) { deleteAgent(id: $id) { __typename } }`,
    ]) {
      const result = await execute<Record<string, { __typename: string }>>(
        operation,
        { id: created.data?.createAgent.agent.id },
        bob.headers,
      );
      expect(Object.values(result.data ?? {})[0]?.__typename, operation).toBe("NotFoundError");
    }
  });

  it("offers example payload schemas that compile", async () => {
    const { headers } = await seed.tenantWithKey();
    const result = await execute<{ examplePayloadSchemas: { name: string; schema: unknown }[] }>(
      "{ examplePayloadSchemas { name schema } }",
      {},
      headers,
    );
    const names = result.data?.examplePayloadSchemas.map((example) => example.name);
    expect(names).toEqual(["ServiceDesk Plus request", "Jira issue event", "Generic event"]);
    for (const example of result.data?.examplePayloadSchemas ?? []) {
      const created = await execute<Created>(
        CREATE,
        { input: { name: `from ${example.name}`, payloadSchema: example.schema } },
        headers,
      );
      expect(created.data?.createAgent.__typename).toBe("CreatedAgent");
    }
  });
});
