import { describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { execute } from "../support/graphql.js";
import { seed } from "../support/seed.js";

const SETTINGS = `{ settings {
  instance { metricsEnabled metricsPort publicUrl allowInsecureUrls allowedPrivateRanges defaultRetryPolicy { delaysSeconds } }
  tenant { attemptRetentionDays consoleRetentionDays defaultInboundRateLimitPerMinute } } }`;

const UPDATE = `mutation ($input: UpdateSettingsInput!) { updateSettings(input: $input) {
  __typename
  ... on Settings { instance { metricsPort allowedPrivateRanges defaultRetryPolicy { delaysSeconds } }
                    tenant { attemptRetentionDays consoleRetentionDays defaultInboundRateLimitPerMinute } }
  ... on Error { code message field } } }`;

type Update = {
  updateSettings: {
    __typename: string;
    code?: string;
    field?: string;
    message?: string;
    instance?: { metricsPort: number; allowedPrivateRanges: string[]; defaultRetryPolicy: { delaysSeconds: number[] } };
    tenant?: { attemptRetentionDays: number; consoleRetentionDays: number; defaultInboundRateLimitPerMinute: number };
  };
};

async function update(headers: Record<string, string>, input: Record<string, unknown>) {
  const result = await execute<Update>(UPDATE, { input }, headers);
  expect(result.errors).toBeUndefined();
  return result.data?.updateSettings as Update["updateSettings"];
}

describe("settings", () => {
  it("reads the defaults, changes the tenant's with settings:write, and resets with null", async () => {
    const { tenant } = await seed.tenantWithKey();
    const writer = await seed.keyFor(tenant, { scopes: ["settings:read", "settings:write"] });
    const before = await execute<{ settings: { tenant: Record<string, number> } }>(SETTINGS, {}, writer.headers);
    expect(before.data?.settings.tenant).toEqual({
      attemptRetentionDays: 30,
      consoleRetentionDays: 7,
      defaultInboundRateLimitPerMinute: 100,
    });

    const changed = await update(writer.headers, { attemptRetentionDays: 3, defaultInboundRateLimitPerMinute: 20 });
    expect(changed.tenant).toEqual({
      attemptRetentionDays: 3,
      consoleRetentionDays: 7,
      defaultInboundRateLimitPerMinute: 20,
    });
    const audit = await prisma.auditEntry.findFirst({ where: { tenantId: tenant.id, action: "settings.updated" } });
    expect(audit?.metadata).toMatchObject({ tenant: { attemptRetentionDays: 3 } });

    // A new agent without a limit of its own takes the tenant's default.
    const agent = await execute<{ createAgent: { agent?: { rateLimitPerMinute: number } } }>(
      `mutation { createAgent(input: { name: "defaults" }) { ... on CreatedAgent { agent { rateLimitPerMinute } } } }`,
      {},
      (await seed.keyFor(tenant)).headers,
    );
    expect(agent.data?.createAgent.agent?.rateLimitPerMinute).toBe(20);

    const reset = await update(writer.headers, { attemptRetentionDays: null });
    expect(reset.tenant?.attemptRetentionDays).toBe(30);
    expect(reset.tenant?.defaultInboundRateLimitPerMinute).toBe(20);
  });

  it("names the field of each bad value and changes nothing", async () => {
    // Instance fields are the operator's: an instance:admin key gets to have its values checked.
    const { headers, tenant } = await seed.tenantWithKey({ scopes: ["admin", "instance:admin"] });
    const cases: [Record<string, unknown>, string][] = [
      [{ metricsPort: 80 }, "metricsPort"],
      [{ metricsPort: 70_000 }, "metricsPort"],
      [{ publicUrl: "ftp://example.com" }, "publicUrl"],
      [{ allowedPrivateRanges: ["10.0.0.0/8", "not-a-range"] }, "allowedPrivateRanges.1"],
      [{ defaultRetryPolicy: { delaysSeconds: [] } }, "defaultRetryPolicy.delaysSeconds"],
      [{ attemptRetentionDays: 0 }, "attemptRetentionDays"],
      [{ consoleRetentionDays: 1000, attemptRetentionDays: 5 }, "consoleRetentionDays"],
      [{ defaultInboundRateLimitPerMinute: -1 }, "defaultInboundRateLimitPerMinute"],
    ];
    for (const [input, field] of cases) {
      const result = await update(headers, input);
      expect(result, JSON.stringify(input)).toMatchObject({ __typename: "ValidationError", field });
    }
    expect(await prisma.tenantSettings.findUnique({ where: { tenantId: tenant.id } })).toBeNull();
    expect(await prisma.instanceSettings.findUnique({ where: { id: 1 } })).toBeNull();
  });

  it("lets only instance:admin change instance-wide settings, refusing the whole change otherwise", async () => {
    const { tenant, headers: tenantAdmin } = await seed.tenantWithKey({ scopes: ["admin"] });
    const writer = await seed.keyFor(tenant, { scopes: ["settings:read", "settings:write"] });
    const refused = await update(writer.headers, { consoleRetentionDays: 2, metricsPort: 9200 });
    expect(refused).toMatchObject({ __typename: "ForbiddenError", code: "FORBIDDEN", field: "metricsPort" });
    // A tenant's admin is not the instance's operator either.
    const refusedAdmin = await update(tenantAdmin, { consoleRetentionDays: 2, allowedPrivateRanges: ["10.1.0.0/16"] });
    expect(refusedAdmin).toMatchObject({ __typename: "ForbiddenError", field: "allowedPrivateRanges" });
    expect(await prisma.tenantSettings.findUnique({ where: { tenantId: tenant.id } })).toBeNull();
    expect(await prisma.instanceSettings.findUnique({ where: { id: 1 } })).toBeNull();

    // An operator key made with only instance:admin (as `signalpost keys create --scopes instance:admin` does).
    const { headers: admin } = await seed.keyFor(tenant, { scopes: ["instance:admin"], name: "operator" });
    const applied = await update(admin, {
      allowedPrivateRanges: ["10.1.0.0/16"],
      defaultRetryPolicy: { delaysSeconds: [1, 2], maxAttempts: 4 },
    });
    expect(applied.instance).toMatchObject({
      allowedPrivateRanges: ["10.1.0.0/16"],
      defaultRetryPolicy: { delaysSeconds: [1, 2, 2] },
    });
    await update(admin, { allowedPrivateRanges: null, defaultRetryPolicy: null });
  });

  it("needs settings:read to read and settings:write to change", async () => {
    const { tenant } = await seed.tenantWithKey();
    const reader = await seed.keyFor(tenant, { scopes: ["settings:read"] });
    expect((await execute(SETTINGS, {}, reader.headers)).errors).toBeUndefined();
    const denied = await execute(UPDATE, { input: { consoleRetentionDays: 1 } }, reader.headers);
    expect(denied.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});
