import { afterEach, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { execute, testServices } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";

const PRODUCTION = { allowInsecureUrls: false, allowedPrivateRanges: [] };
afterEach(() => testServices.outboundRules.apply(PRODUCTION));

const CREATE = `mutation ($input: CreateEndpointInput!) {
  createEndpoint(input: $input) {
    __typename
    ... on CreatedEndpoint { secret endpoint { id name url warnings secret { masked version } retryPolicy { delaysSeconds maxAttempts isDefault } } }
    ... on Error { code message field }
  }
}`;
type CreateData = {
  createEndpoint: {
    __typename: string;
    secret?: string;
    endpoint?: {
      id: string;
      warnings: string[];
      secret: { masked: string; version: number };
      retryPolicy: { delaysSeconds: number[]; maxAttempts: number; isDefault: boolean };
    };
    code?: string;
    message?: string;
    field?: string;
  };
};

async function create(headers: Record<string, string>, input: Record<string, unknown>) {
  const result = await execute<CreateData>(
    CREATE,
    { input: { name: "hooks", url: "https://hooks.example.com/in", ...input } },
    headers,
  );
  expect(result.errors).toBeUndefined();
  return result.data?.createEndpoint;
}

describe("endpoints", () => {
  it("creates an endpoint with a generated whsec_ secret shown once and masked afterwards", async () => {
    testServices.outboundRules.apply(PRODUCTION);
    const { headers } = await seed.tenantWithKey();
    const created = await create(headers, {});
    expect(created?.__typename).toBe("CreatedEndpoint");
    expect(created?.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created?.endpoint?.secret).toEqual({ masked: `whsec_••••••••${created?.secret?.slice(-4)}`, version: 1 });
    expect(created?.endpoint?.retryPolicy).toEqual({
      delaysSeconds: [5, 300, 1800, 7200, 18000, 36000, 36000],
      maxAttempts: 8,
      isDefault: true,
    });

    const listed = await execute("{ endpoints { edges { node { id secret { masked } } } } }", {}, headers);
    expect(JSON.stringify(listed.data)).not.toContain(created?.secret);
    // Encrypted at rest: the stored value is a JWE that does not contain the secret.
    const row = await prisma.endpointSecret.findFirstOrThrow({
      where: { endpointId: uuidOf(created?.endpoint?.id ?? "") },
    });
    expect(row.encrypted.split(".")).toHaveLength(5);
    expect(row.encrypted).not.toContain((created?.secret ?? "").slice(6, 20));
  });

  it.each([
    [{ url: "http://hooks.example.com/in" }, "url", "must use https"],
    [{ url: "https://10.0.0.7/in" }, "url", "10.0.0.7 is a private address"],
    [{ url: "https://169.254.169.254/latest" }, "url", "cloud metadata address"],
    [{ url: "https://localhost/in" }, "url", "localhost is a loopback address"],
    [{ url: "nope" }, "url", "absolute URL"],
    [{ name: " " }, "name", "1 to 100 characters"],
    [{ timeoutMs: 500 }, "timeoutMs", "between 1000 and 30000"],
    [{ timeoutMs: 31_000 }, "timeoutMs", "between 1000 and 30000"],
    [{ headers: { "webhook-signature": "forged" } }, "headers.webhook-signature", "set by Signalpost"],
    [{ headers: { "X-Bad": "a\nb" } }, "headers.X-Bad", "without line breaks"],
    [{ headers: ["x"] }, "headers", "must be an object"],
    [{ eventTypes: ["ok", "not ok"] }, "eventTypes", "not an event type name"],
    [{ retryPolicy: { delaysSeconds: [] } }, "retryPolicy.delaysSeconds", "at least one delay"],
    [{ retryPolicy: { delaysSeconds: [5], maxAttempts: 99 } }, "retryPolicy.maxAttempts", "between 1 and 31"],
    [{ secret: "whsec_short" }, "secret", "24-64 bytes"],
  ])("refuses %j in production with a field error and writes nothing", async (input, field, message) => {
    testServices.outboundRules.apply(PRODUCTION);
    const { headers, tenant } = await seed.tenantWithKey();
    const result = await create(headers, input);
    expect(result).toMatchObject({ __typename: "ValidationError", code: "VALIDATION_FAILED", field });
    expect(result?.message).toContain(message);
    expect(await prisma.endpoint.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it("allows http and loopback on a developer's embedded setup, and allowlisted private ranges", async () => {
    const { headers } = await seed.tenantWithKey();
    testServices.outboundRules.apply({ allowInsecureUrls: true });
    expect((await create(headers, { name: "dev", url: "http://localhost:3000/hook" }))?.__typename).toBe(
      "CreatedEndpoint",
    );
    expect((await create(headers, { name: "lan", url: "http://10.1.2.3/hook" }))?.message).toContain("private address");
    testServices.outboundRules.apply({ allowInsecureUrls: false, allowedPrivateRanges: ["10.1.0.0/16"] });
    expect((await create(headers, { name: "lan", url: "https://10.1.2.3/hook" }))?.__typename).toBe("CreatedEndpoint");
  });

  it("answers a duplicate name with a ConflictError naming the field", async () => {
    testServices.outboundRules.apply(PRODUCTION);
    const { headers } = await seed.tenantWithKey();
    await create(headers, { name: "same" });
    expect(await create(headers, { name: "same" })).toMatchObject({
      __typename: "ConflictError",
      code: "CONFLICT",
      field: "name",
    });
  });

  it("updates only the given fields, flags and audits TLS verification switched off", async () => {
    testServices.outboundRules.apply(PRODUCTION);
    const { tenant, headers } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "a.b");
    const created = await create(headers, { description: "keep me", eventTypes: ["a.b"] });
    const id = created?.endpoint?.id;
    const updated = await execute<{ updateEndpoint: Record<string, unknown> }>(
      `mutation ($id: ID!) { updateEndpoint(id: $id, input: { verifyTls: false, timeoutMs: 5000 }) {
        __typename ... on Endpoint { description eventTypes timeoutMs verifyTls warnings } } }`,
      { id },
      headers,
    );
    expect(updated.data?.updateEndpoint).toEqual({
      __typename: "Endpoint",
      description: "keep me",
      eventTypes: ["a.b"],
      timeoutMs: 5000,
      verifyTls: false,
      warnings: ["TLS certificate verification is disabled for this endpoint"],
    });
    const audit = await prisma.auditEntry.findFirstOrThrow({
      where: { action: "endpoint.updated", targetId: uuidOf(id ?? "") },
    });
    expect(audit.metadata).toEqual({ fields: ["timeoutMs", "verifyTls"], tlsVerificationDisabled: true });
  });

  it("reveals the secret only with secrets:reveal, audits it, and limits it to 10 a minute", async () => {
    testServices.outboundRules.apply(PRODUCTION);
    const owner = await seed.tenantWithKey({ scopes: ["endpoints:write", "endpoints:read"] });
    const created = await create(owner.headers, {});
    const reveal = `mutation ($id: ID!) { revealEndpointSecret(id: $id) {
      __typename ... on RevealedSecret { secret version } ... on RateLimitedError { retryAfterSeconds } } }`;
    expect((await execute(reveal, { id: created?.endpoint?.id }, owner.headers)).errors?.[0]?.extensions?.code).toBe(
      "FORBIDDEN",
    );

    const revealer = await seed.keyFor(owner.tenant, { scopes: ["secrets:reveal"], name: "revealer" });
    const answers = [];
    for (let i = 0; i < 11; i += 1) {
      answers.push(
        (
          await execute<{ revealEndpointSecret: Record<string, unknown> }>(
            reveal,
            { id: created?.endpoint?.id },
            revealer.headers,
          )
        ).data?.revealEndpointSecret,
      );
    }
    expect(answers[0]).toEqual({ __typename: "RevealedSecret", secret: created?.secret, version: 1 });
    expect(answers[10]).toMatchObject({ __typename: "RateLimitedError" });
    const audits = await prisma.auditEntry.findMany({
      where: { action: "endpoint_secret.revealed", targetId: uuidOf(created?.endpoint?.id ?? "") },
    });
    expect(audits).toHaveLength(10);
    expect(audits[0]).toMatchObject({ actorId: revealer.apiKey.id, actorName: "revealer" });
    expect(JSON.stringify(audits)).not.toContain(created?.secret);
  });

  it("disables and enables with an audit trail, and deletes", async () => {
    testServices.outboundRules.apply(PRODUCTION);
    const { headers } = await seed.tenantWithKey();
    const api = outboundApi(headers);
    const { id } = await api.createEndpoint({ url: "https://hooks.example.com/x" });
    const disabled = await api.run<{ disableEndpoint: { enabled: boolean; disabledReason: string } }>(
      `mutation ($id: ID!) { disableEndpoint(id: $id, reason: "maintenance") { ... on Endpoint { enabled disabledReason } } }`,
      { id },
    );
    expect(disabled.disableEndpoint).toEqual({ enabled: false, disabledReason: "maintenance" });
    await api.run(`mutation ($id: ID!) { enableEndpoint(id: $id) { __typename } }`, { id });
    await api.run(`mutation ($id: ID!) { deleteEndpoint(id: $id) { __typename } }`, { id });
    const actions = (
      await prisma.auditEntry.findMany({ where: { targetId: uuidOf(id ?? "") }, orderBy: { createdAt: "asc" } })
    ).map((entry) => entry.action);
    expect(actions).toEqual(["endpoint.created", "endpoint.disabled", "endpoint.enabled", "endpoint.deleted"]);
    expect(await prisma.endpoint.count({ where: { id: uuidOf(id ?? "") } })).toBe(0);
  });

  it("answers another tenant's endpoint as NOT_FOUND everywhere", async () => {
    testServices.outboundRules.apply(PRODUCTION);
    const alice = await seed.tenantWithKey();
    const bob = await seed.tenantWithKey();
    const { id } = await outboundApi(alice.headers).createEndpoint({ url: "https://hooks.example.com/a" });
    for (const operation of [
      `query ($id: ID!) { endpoint(id: $id) { __typename } }`,
      `mutation ($id: ID!) { updateEndpoint(id: $id, input: { name: "stolen" }) { __typename } }`,
      `mutation ($id: ID!) { deleteEndpoint(id: $id) { __typename } }`,
      `mutation ($id: ID!) { revealEndpointSecret(id: $id) { __typename } }`,
      `mutation ($id: ID!) { sendTestEvent(endpointId: $id) { __typename } }`,
    ]) {
      const result = await execute<Record<string, { __typename: string }>>(operation, { id }, bob.headers);
      expect(Object.values(result.data ?? {})[0]?.__typename, operation).toBe("NotFoundError");
    }
  });
});
