import { describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { noteApiKeyUsed } from "../../src/modules/api-keys/api-keys.service.js";
import { execute } from "../support/graphql.js";
import { gid, uuidOf } from "../support/ids.js";
import { seed } from "../support/seed.js";

const CREATE = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    __typename
    ... on CreatedApiKey { secret apiKey { id name prefix lastChars maskedKey scopes status expiresAt } }
    ... on ValidationError { code field message }
  }
}`;

const LIST = `query ($first: Int, $after: String) {
  apiKeys(first: $first, after: $after) {
    edges { cursor node { id name maskedKey scopes status lastUsedAt revokedAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Created {
  createApiKey: {
    __typename: string;
    secret?: string;
    apiKey?: {
      id: string;
      name: string;
      prefix: string;
      lastChars: string;
      maskedKey: string;
      scopes: string[];
      status: string;
    };
    code?: string;
    field?: string;
    message?: string;
  };
}

describe("API keys", () => {
  it("creates a key whose secret is shown once, and lists it masked", async () => {
    const { headers } = await seed.tenantWithKey();
    const created = await execute<Created>(
      CREATE,
      { input: { name: "ci deployer", scopes: ["EVENTS_PUBLISH", "ENDPOINTS_READ"] } },
      headers,
    );
    const result = created.data?.createApiKey;
    expect(result?.__typename).toBe("CreatedApiKey");
    const secret = result?.secret ?? "";
    expect(secret).toMatch(/^sp_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    expect(result?.apiKey).toMatchObject({
      name: "ci deployer",
      scopes: ["EVENTS_PUBLISH", "ENDPOINTS_READ"],
      status: "ACTIVE",
    });
    expect(result?.apiKey?.maskedKey).toBe(`${result?.apiKey?.prefix}…${secret.slice(-4)}`);

    // Only a hash is stored: nothing in the row contains the secret part.
    const row = await prisma.apiKey.findUniqueOrThrow({ where: { id: uuidOf(result?.apiKey?.id ?? "") } });
    // (Sliced, not split on "_": the secret part is base64url and may contain underscores itself.)
    const secretPart = secret.slice("sp_".length + 32 + 1);
    expect(secretPart).toHaveLength(43);
    expect(JSON.stringify(row)).not.toContain(secretPart);

    const listed = await execute<{ apiKeys: { edges: { node: Record<string, unknown> }[] } }>(LIST, {}, headers);
    expect(JSON.stringify(listed.data)).not.toContain(secret);
    expect(listed.data?.apiKeys.edges.map((edge) => edge.node.name)).toContain("ci deployer");

    // The new key works.
    const viewer = await execute<{ viewer: { scopes: string[] } }>(
      "{ viewer { scopes } }",
      {},
      { authorization: `Bearer ${secret}` },
    );
    expect(viewer.data?.viewer.scopes).toEqual(["EVENTS_PUBLISH", "ENDPOINTS_READ"]);
  });

  it.each([
    [{ name: "  ", scopes: ["ADMIN"] }, "name", "name must not be empty"],
    [{ name: "x".repeat(101), scopes: ["ADMIN"] }, "name", "at most 100"],
    [{ name: "k", scopes: [] }, "scopes", "at least one scope"],
    [{ name: "k", scopes: ["ADMIN"], expiresAt: "2001-01-01T00:00:00Z" }, "expiresAt", "in the future"],
    [{ name: "k", scopes: ["ADMIN"], expiresAt: "2199-01-01T00:00:00Z" }, "expiresAt", "within 5 years"],
  ])("refuses %j with a ValidationError on %s, writing nothing", async (input, field, message) => {
    const { headers, tenant } = await seed.tenantWithKey();
    const before = await prisma.apiKey.count({ where: { tenantId: tenant.id } });
    const result = await execute<Created>(CREATE, { input }, headers);
    expect(result.data?.createApiKey).toMatchObject({
      __typename: "ValidationError",
      code: "VALIDATION_FAILED",
      field,
    });
    expect(result.data?.createApiKey.message).toContain(message);
    expect(await prisma.apiKey.count({ where: { tenantId: tenant.id } })).toBe(before);
  });

  it("refuses an unknown scope name at the GraphQL layer", async () => {
    const { headers } = await seed.tenantWithKey();
    const result = await execute(CREATE, { input: { name: "k", scopes: ["SUPERUSER"] } }, headers);
    expect(result.errors?.[0]?.message).toContain('Value "SUPERUSER" does not exist in "Scope" enum');
  });

  it("never lets a key grant a scope it does not hold", async () => {
    const { headers } = await seed.tenantWithKey({ scopes: ["keys:write", "endpoints:read"] });
    const escalation = await execute<Created>(CREATE, { input: { name: "k", scopes: ["ADMIN"] } }, headers);
    expect(escalation.data?.createApiKey).toMatchObject({ __typename: "ValidationError", field: "scopes" });
    expect(escalation.data?.createApiKey.message).toContain('you cannot grant "admin"');
    const allowed = await execute<Created>(CREATE, { input: { name: "k", scopes: ["ENDPOINTS_READ"] } }, headers);
    expect(allowed.data?.createApiKey.__typename).toBe("CreatedApiKey");
  });

  it("pages through keys newest first with cursors", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    for (const name of ["first", "second", "third"]) await seed.keyFor(tenant, { name });
    const page1 = await execute<{
      apiKeys: { edges: { node: { name: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
    }>(LIST, { first: 2 }, headers);
    expect(page1.data?.apiKeys.edges.map((edge) => edge.node.name)).toEqual(["third", "second"]);
    expect(page1.data?.apiKeys.pageInfo.hasNextPage).toBe(true);
    const page2 = await execute<{
      apiKeys: { edges: { node: { name: string } }[]; pageInfo: { hasNextPage: boolean } };
    }>(LIST, { first: 2, after: page1.data?.apiKeys.pageInfo.endCursor }, headers);
    expect(page2.data?.apiKeys.edges.map((edge) => edge.node.name)).toEqual(["first", "test key"]);
    expect(page2.data?.apiKeys.pageInfo.hasNextPage).toBe(false);
  });

  it("serves at most 100 keys a page, and refuses a larger page with the limit instead of shortening it", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    await prisma.apiKey.createMany({
      data: Array.from({ length: 101 }, (_, i) => ({
        tenantId: tenant.id,
        name: `bulk ${i}`,
        secretHash: "x",
        lastChars: "abcd",
        scopes: ["admin"],
      })),
    });
    const refused = await execute(LIST, { first: 1000 }, headers);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", argument: "first", limit: 100 });
    const result = await execute<{ apiKeys: { edges: unknown[]; pageInfo: { hasNextPage: boolean } } }>(
      LIST,
      { first: 100 },
      headers,
    );
    expect(result.data?.apiKeys.edges).toHaveLength(100);
    expect(result.data?.apiKeys.pageInfo.hasNextPage).toBe(true);
  });

  it("revokes a key at once, idempotently, with a message that says it was revoked", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    const victim = await seed.keyFor(tenant, { name: "leaked" });
    const revoke = `mutation ($id: ID!) { revokeApiKey(id: $id) { __typename ... on ApiKey { status revokedAt } ... on NotFoundError { field } } }`;
    const first = await execute<{ revokeApiKey: { status: string; revokedAt: string } }>(
      revoke,
      { id: gid("ApiKey", victim.apiKey.id) },
      headers,
    );
    expect(first.data?.revokeApiKey.status).toBe("REVOKED");
    const second = await execute<{ revokeApiKey: { revokedAt: string } }>(
      revoke,
      { id: gid("ApiKey", victim.apiKey.id) },
      headers,
    );
    expect(second.data?.revokeApiKey.revokedAt).toBe(first.data?.revokeApiKey.revokedAt);

    const refused = await execute("{ viewer { scopes } }", {}, victim.headers);
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]).toMatchObject({
      message: "API key has been revoked",
      extensions: { code: "UNAUTHENTICATED" },
    });
  });

  it("refuses an expired key saying so", async () => {
    const { tenant } = await seed.tenantWithKey();
    const key = await seed.keyFor(tenant, { expiresAt: new Date(Date.now() + 60_000) });
    await prisma.apiKey.update({ where: { id: key.apiKey.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    const refused = await execute("{ viewer { scopes } }", {}, key.headers);
    expect(refused.errors?.[0]).toMatchObject({
      message: "API key has expired",
      extensions: { code: "UNAUTHENTICATED" },
    });
  });

  it("gives malformed, unknown and wrong-secret keys the same answer", async () => {
    const { token } = await seed.tenantWithKey();
    const wrongSecret = `${token.slice(0, -4)}AAAA`;
    const unknownId = `sp_${"0".repeat(32)}_${token.slice("sp_".length + 32 + 1)}`;
    const answers: { status: number; error: unknown }[] = [];
    for (const candidate of ["sp_garbage", wrongSecret, unknownId]) {
      const result = await execute("{ viewer { scopes } }", {}, { authorization: `Bearer ${candidate}` });
      answers.push({ status: result.status, error: result.errors?.[0] });
    }
    expect(answers.every((answer) => JSON.stringify(answer) === JSON.stringify(answers[0]))).toBe(true);
    expect(answers[0]).toMatchObject({
      status: 401,
      error: { message: "Invalid API key", extensions: { code: "UNAUTHENTICATED" } },
    });
  });

  it("updates lastUsedAt on use, at most once a minute", async () => {
    const { apiKey, headers } = await seed.tenantWithKey();
    expect(apiKey.lastUsedAt).toBeNull();
    await execute("{ viewer { scopes } }", {}, headers);
    await expect
      .poll(async () => (await prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt)
      .not.toBeNull();
    const firstUse = await prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } });
    const at = firstUse.lastUsedAt as Date;

    await noteApiKeyUsed(firstUse, new Date(at.getTime() + 30_000));
    expect((await prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt).toEqual(at);
    await noteApiKeyUsed(firstUse, new Date(at.getTime() + 61_000));
    expect((await prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt).toEqual(
      new Date(at.getTime() + 61_000),
    );
  });
});
