import { describe, expect, it } from "vitest";
import { execute } from "../support/graphql.js";
import { gid } from "../support/ids.js";
import { seed } from "../support/seed.js";

const AUDIT = `query ($filter: AuditLogFilter) {
  auditLog(filter: $filter) { edges { node { action actorType actorId actorName targetType targetId ip userAgent metadata createdAt } } }
}`;
type AuditData = { auditLog: { edges: { node: Record<string, unknown> }[] } };

describe("tenant isolation", () => {
  it("answers another tenant's key as NOT_FOUND, exactly like a missing one", async () => {
    const alice = await seed.tenantWithKey();
    const bob = await seed.tenantWithKey();
    const get = `query ($id: ID!) { apiKey(id: $id) { __typename ... on NotFoundError { code message field } } }`;
    const revoke = `mutation ($id: ID!) { revokeApiKey(id: $id) { __typename ... on NotFoundError { code message field } } }`;
    for (const operation of [get, revoke]) {
      const foreign = await execute(operation, { id: gid("ApiKey", alice.apiKey.id) }, bob.headers);
      const missing = await execute(
        operation,
        { id: gid("ApiKey", "5f0c7a3e-0000-4000-8000-000000000000") },
        bob.headers,
      );
      const malformed = await execute(operation, { id: "not-a-uuid" }, bob.headers);
      expect(foreign.data).toEqual(missing.data);
      expect(malformed.data).toEqual(missing.data);
      expect(JSON.stringify(foreign.data)).toContain('"code":"NOT_FOUND"');
    }
    // Alice's key still works: Bob's revoke did nothing.
    expect((await execute("{ viewer { scopes } }", {}, alice.headers)).errors).toBeUndefined();
  });

  it("lists only the caller's tenant's keys and audit entries", async () => {
    const alice = await seed.tenantWithKey();
    const bob = await seed.tenantWithKey();
    await seed.keyFor(alice.tenant, { name: "alice-only" });
    const keys = await execute<{ apiKeys: { edges: { node: { name: string; id: string } }[] } }>(
      "{ apiKeys { edges { node { id name } } } }",
      {},
      bob.headers,
    );
    expect(keys.data?.apiKeys.edges.map((edge) => edge.node.id)).toEqual([gid("ApiKey", bob.apiKey.id)]);
    const audit = await execute<AuditData>(AUDIT, {}, bob.headers);
    expect(JSON.stringify(audit.data)).not.toContain(gid("ApiKey", alice.apiKey.id));
    expect(JSON.stringify(audit.data)).not.toContain(alice.apiKey.id);
  });
});

describe("audit log", () => {
  it("records key creation, revocation and sessions with actor, target, IP and user agent", async () => {
    const { headers, apiKey } = await seed.tenantWithKey();
    const client = { ...headers, "user-agent": "audit-test/1.0" };
    const created = await execute<{ createApiKey: { apiKey: { id: string } } }>(
      `mutation { createApiKey(input: { name: "audited", scopes: [KEYS_READ] }) { ... on CreatedApiKey { apiKey { id } } } }`,
      {},
      client,
    );
    const newId = created.data?.createApiKey.apiKey.id;
    await execute(`mutation { revokeApiKey(id: "${newId}") { __typename } }`, {}, client);
    await execute("mutation { createSession { __typename } }", {}, client);

    const audit = await execute<AuditData>(AUDIT, {}, headers);
    const entries = audit.data?.auditLog.edges.map((edge) => edge.node) ?? [];
    expect(entries.map((entry) => entry.action)).toEqual([
      "session.created",
      "api_key.revoked",
      "api_key.created",
      "api_key.created",
    ]);
    expect(entries[2]).toMatchObject({
      action: "api_key.created",
      actorType: "api_key",
      actorId: gid("ApiKey", apiKey.id),
      actorName: "test key",
      targetType: "ApiKey",
      targetId: newId,
      userAgent: "audit-test/1.0",
      metadata: { name: "audited", scopes: ["keys:read"] },
    });
    // The seed's own key was created by the system actor.
    expect(entries[3]).toMatchObject({ actorType: "system", targetId: gid("ApiKey", apiKey.id) });
    expect(JSON.stringify(entries)).not.toMatch(/sp_[0-9a-f]{32}_/);
  });

  it("filters by action, actor and time", async () => {
    const { headers, apiKey, tenant } = await seed.tenantWithKey();
    const other = await seed.keyFor(tenant, { name: "other actor", scopes: ["keys:write"] });
    await execute(
      `mutation { createApiKey(input: { name: "a", scopes: [KEYS_WRITE] }) { __typename } }`,
      {},
      other.headers,
    );
    const start = new Date();
    await execute(`mutation { createSession { __typename } }`, {}, headers);

    const byAction = await execute<AuditData>(AUDIT, { filter: { actions: ["session.created"] } }, headers);
    expect(byAction.data?.auditLog.edges.map((edge) => edge.node.action)).toEqual(["session.created"]);
    const byActor = await execute<AuditData>(AUDIT, { filter: { actorId: gid("ApiKey", other.apiKey.id) } }, headers);
    expect(byActor.data?.auditLog.edges.map((edge) => edge.node.actorId)).toEqual([gid("ApiKey", other.apiKey.id)]);
    const since = await execute<AuditData>(AUDIT, { filter: { since: start.toISOString() } }, headers);
    expect(since.data?.auditLog.edges.map((edge) => edge.node.actorId)).toEqual([gid("ApiKey", apiKey.id)]);
    const until = await execute<AuditData>(AUDIT, { filter: { until: start.toISOString() } }, headers);
    expect(until.data?.auditLog.edges.map((edge) => edge.node.action)).not.toContain("session.created");
  });
});
