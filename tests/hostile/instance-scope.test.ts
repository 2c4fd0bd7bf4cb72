import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { Authenticator } from "../../src/modules/auth/authenticate.js";
import { bootstrapFirstTenant } from "../../src/modules/tenants/bootstrap.js";
import { execute, testServices } from "../support/graphql.js";
import { runSignalpost } from "../support/process.js";
import { seed } from "../support/seed.js";

/**
 * Instance-wide settings belong to the installation's operator. A tenant's admin key must not be able to loosen the
 * URL rules (or anything else instance-wide) that every other tenant relies on, nor mint itself a key that can.
 */

const UPDATE = `mutation ($input: UpdateSettingsInput!) { updateSettings(input: $input) {
  __typename ... on Settings { instance { allowInsecureUrls allowedPrivateRanges } }
  ... on Error { code message field } } }`;

type UpdateResult = {
  updateSettings: { __typename: string; code?: string; field?: string; instance?: { allowInsecureUrls: boolean } };
};

const CREATE_KEY = `mutation ($scopes: [Scope!]!) { createApiKey(input: { name: "escalate", scopes: $scopes }) {
  __typename ... on CreatedApiKey { apiKey { scopes } } ... on Error { code field } } }`;

describe("instance:admin: the operator's scope", () => {
  // First in the file: bootstrap only runs on a database without tenants.
  let bootstrapToken: string;
  beforeAll(async () => {
    const first = await bootstrapFirstTenant();
    if (!first) throw new Error("the test database already had a tenant");
    bootstrapToken = first.token;
  });

  it("gives the first key of a fresh install admin and instance:admin", async () => {
    const result = await execute<{ viewer: { scopes: string[] } }>(
      "{ viewer { scopes } }",
      {},
      { authorization: `Bearer ${bootstrapToken}` },
    );
    expect(result.data?.viewer.scopes.sort()).toEqual(["ADMIN", "INSTANCE_ADMIN"]);
  });

  it("refuses every instance-wide field to a tenant's admin, naming it, and changes nothing", async () => {
    const tenantB = await seed.tenantWithKey({ scopes: ["admin"] });
    const cases: [Record<string, unknown>, string][] = [
      [{ allowInsecureUrls: true }, "allowInsecureUrls"],
      [{ allowedPrivateRanges: ["127.0.0.0/8"] }, "allowedPrivateRanges"],
      [{ metricsEnabled: false }, "metricsEnabled"],
      [{ metricsPort: 9300 }, "metricsPort"],
      [{ publicUrl: "https://attacker.example" }, "publicUrl"],
      [{ defaultRetryPolicy: { delaysSeconds: [1] } }, "defaultRetryPolicy"],
      // Even a bad value is refused for the scope first: nothing is learnt by probing.
      [{ metricsPort: 1 }, "metricsPort"],
      // A tenant field alongside does not sneak through.
      [{ consoleRetentionDays: 3, allowInsecureUrls: null }, "allowInsecureUrls"],
    ];
    for (const [input, field] of cases) {
      const result = await execute<UpdateResult>(UPDATE, { input }, tenantB.headers);
      expect(result.errors, JSON.stringify(input)).toBeUndefined();
      expect(result.data?.updateSettings, JSON.stringify(input)).toMatchObject({
        __typename: "ForbiddenError",
        code: "FORBIDDEN",
        field,
      });
    }
    expect(await prisma.instanceSettings.findUnique({ where: { id: 1 } })).toBeNull();
    expect(await prisma.tenantSettings.findUnique({ where: { tenantId: tenantB.tenant.id } })).toBeNull();

    // It still reads what applies to it, and changes its own tenant's settings.
    const read = await execute<{ settings: { instance: { allowInsecureUrls: boolean } } }>(
      "{ settings { instance { allowInsecureUrls allowedPrivateRanges metricsPort } } }",
      {},
      tenantB.headers,
    );
    expect(read.errors).toBeUndefined();
    expect(read.data?.settings.instance.allowInsecureUrls).toBe(false);
    const own = await execute<UpdateResult>(UPDATE, { input: { consoleRetentionDays: 3 } }, tenantB.headers);
    expect(own.data?.updateSettings.__typename).toBe("Settings");
  });

  it("lets an instance:admin key change them", async () => {
    const operator = await execute<UpdateResult>(
      UPDATE,
      { input: { allowedPrivateRanges: ["10.9.0.0/16"] } },
      { authorization: `Bearer ${bootstrapToken}` },
    );
    expect(operator.data?.updateSettings).toMatchObject({
      __typename: "Settings",
      instance: { allowedPrivateRanges: ["10.9.0.0/16"] },
    });
    await execute(UPDATE, { input: { allowedPrivateRanges: null } }, { authorization: `Bearer ${bootstrapToken}` });
  });

  it("cannot be granted through the API: not by a tenant admin, not even by an operator key", async () => {
    const tenantAdmin = await seed.tenantWithKey({ scopes: ["admin"] });
    for (const headers of [tenantAdmin.headers, { authorization: `Bearer ${bootstrapToken}` }]) {
      for (const scopes of [["INSTANCE_ADMIN"], ["ADMIN", "INSTANCE_ADMIN"]]) {
        const result = await execute<{ createApiKey: { __typename: string } }>(CREATE_KEY, { scopes }, headers);
        expect(result.errors).toBeUndefined();
        expect(result.data?.createApiKey).toMatchObject({ __typename: "ForbiddenError", field: "scopes" });
      }
    }
    expect(await prisma.apiKey.count({ where: { name: "escalate" } })).toBe(0);
  });

  it("does not come with a session made from a tenant admin key", async () => {
    const tenantAdmin = await seed.tenantWithKey({ scopes: ["admin"] });
    const asked = await execute<{ createSession: { __typename: string; field?: string } }>(
      `mutation { createSession(scopes: [INSTANCE_ADMIN]) { __typename ... on Error { field } } }`,
      {},
      tenantAdmin.headers,
    );
    expect(asked.data?.createSession).toMatchObject({ __typename: "ValidationError", field: "scopes" });

    const session = await execute<{ createSession: { token: string } }>(
      "mutation { createSession { ... on SessionToken { token } } }",
      {},
      tenantAdmin.headers,
    );
    const token = session.data?.createSession.token as string;
    const refused = await execute<UpdateResult>(
      UPDATE,
      { input: { allowInsecureUrls: true } },
      { authorization: `Bearer ${token}` },
    );
    expect(refused.data?.updateSettings).toMatchObject({ __typename: "ForbiddenError", field: "allowInsecureUrls" });
  });

  describe("tokens of an external identity provider", () => {
    let jwksServer: Server;
    let signingKey: CryptoKey;
    const issuer = "https://idp.test/";
    const original = testServices.authenticator;

    beforeAll(async () => {
      const pair = await generateKeyPair("RS256");
      signingKey = pair.privateKey;
      const jwk = { ...(await exportJWK(pair.publicKey)), kid: "idp-1", alg: "RS256", use: "sig" };
      jwksServer = createServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
      testServices.authenticator = new Authenticator({
        keyring: testServices.keyring,
        sessionTtlSeconds: 3_600,
        externalJwt: {
          jwksUrl: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`,
          issuer,
          audience: "signalpost",
          tenantClaim: "signalpost_tenant",
          scopesClaim: "scope",
        },
      });
    });
    afterAll(() => {
      testServices.authenticator = original;
      jwksServer.close();
    });

    it("never carry instance:admin, whatever the token claims", async () => {
      const { tenant } = await seed.tenantWithKey();
      const token = await new SignJWT({ signalpost_tenant: tenant.slug, scope: "admin instance:admin" })
        .setProtectedHeader({ alg: "RS256", kid: "idp-1" })
        .setIssuer(issuer)
        .setAudience("signalpost")
        .setSubject("user-7")
        .setExpirationTime("5m")
        .sign(signingKey);
      const headers = { authorization: `Bearer ${token}` };
      const viewer = await execute<{ viewer: { scopes: string[] } }>("{ viewer { scopes } }", {}, headers);
      expect(viewer.data?.viewer.scopes).toEqual(["ADMIN"]);
      const refused = await execute<UpdateResult>(UPDATE, { input: { allowInsecureUrls: true } }, headers);
      expect(refused.data?.updateSettings).toMatchObject({ __typename: "ForbiddenError", field: "allowInsecureUrls" });
    });
  });

  it("is granted by the CLI: `signalpost keys create --scopes instance:admin`", async () => {
    const cli = runSignalpost(
      ["keys", "create", "--tenant", "operators", "--name", "operator", "--scopes", "instance:admin", "--json"],
      { DATABASE_URL: process.env.DATABASE_URL },
    );
    expect(await cli.exited, cli.stderr()).toBe(0);
    const created = JSON.parse(cli.stdout().trim().split("\n").at(-1) as string) as { key: string; scopes: string[] };
    expect(created.scopes).toEqual(["instance:admin"]);
    const result = await execute<UpdateResult>(
      UPDATE,
      { input: { allowInsecureUrls: false } },
      { authorization: `Bearer ${created.key}` },
    );
    expect(result.data?.updateSettings).toMatchObject({
      __typename: "Settings",
      instance: { allowInsecureUrls: false },
    });
  });
});
