import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "graphql-ws";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { generateMasterKey, parseMasterKeys } from "../../src/lib/master-key.js";
import { Authenticator } from "../../src/modules/auth/authenticate.js";
import { issueSessionToken } from "../../src/modules/auth/sessions.js";
import { type RunningApiServer, startApiServer } from "../support/api-server.js";
import { execute, testServices } from "../support/graphql.js";
import { gid } from "../support/ids.js";
import { seed } from "../support/seed.js";

const VIEWER = "{ viewer { method scopes tenant { slug } apiKey { name } expiresAt } }";
type ViewerData = {
  viewer: { method: string; scopes: string[]; tenant: { slug: string }; apiKey: { name: string } | null };
};

describe("HTTP transports", () => {
  it("accepts a key as Authorization: Bearer and as X-Api-Key", async () => {
    const { token, tenant } = await seed.tenantWithKey({ scopes: ["endpoints:read"] });
    const variants: Record<string, string>[] = [
      { authorization: `Bearer ${token}` },
      { authorization: `bearer ${token}` },
      { "x-api-key": token },
    ];
    for (const headers of variants) {
      const result = await execute<ViewerData>(VIEWER, {}, headers);
      expect(result.errors).toBeUndefined();
      expect(result.data?.viewer).toMatchObject({
        method: "API_KEY",
        scopes: ["ENDPOINTS_READ"],
        tenant: { slug: tenant.slug },
      });
    }
  });

  it("lets anonymous callers reach public fields only", async () => {
    expect((await execute("{ serverInfo { version } }")).errors).toBeUndefined();
    const refused = await execute("{ viewer { scopes } }");
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: "UNAUTHENTICATED" } });
  });

  it("answers a garbage bearer token with 401 and no detail", async () => {
    const result = await execute("{ serverInfo { version } }", {}, { authorization: "Bearer not.a.token" });
    expect(result.status).toBe(401);
    expect(result.errors?.[0]).toMatchObject({ extensions: { code: "UNAUTHENTICATED" } });
    expect(result.data ?? null).toBeNull();
  });
});

describe("sessions", () => {
  const CREATE_SESSION = `mutation ($scopes: [Scope!]) {
    createSession(scopes: $scopes) { __typename ... on SessionToken { token tokenType expiresAt } ... on ValidationError { field message } }
  }`;
  type SessionData = { createSession: { __typename: string; token: string; expiresAt: string; field?: string } };

  it("exchanges an API key for a short-lived JWT that works as a bearer token", async () => {
    const { headers } = await seed.tenantWithKey({ scopes: ["endpoints:read", "keys:read"] });
    const created = await execute<SessionData>(CREATE_SESSION, {}, headers);
    const session = created.data?.createSession;
    expect(session?.__typename).toBe("SessionToken");
    expect(session?.token.split(".")).toHaveLength(3);
    const lifetime = new Date(session?.expiresAt ?? 0).getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(3_500_000);
    expect(lifetime).toBeLessThanOrEqual(3_600_000);

    const viewer = await execute<ViewerData>(VIEWER, {}, { authorization: `Bearer ${session?.token}` });
    expect(viewer.data?.viewer).toMatchObject({
      method: "SESSION",
      scopes: ["ENDPOINTS_READ", "KEYS_READ"],
      apiKey: { name: "test key" },
    });
  });

  it("narrows scopes on request and refuses scopes the key lacks", async () => {
    const { headers } = await seed.tenantWithKey({ scopes: ["endpoints:read", "keys:read"] });
    const narrowed = await execute<SessionData>(CREATE_SESSION, { scopes: ["KEYS_READ"] }, headers);
    const viewer = await execute<ViewerData>(
      VIEWER,
      {},
      { authorization: `Bearer ${narrowed.data?.createSession.token}` },
    );
    expect(viewer.data?.viewer.scopes).toEqual(["KEYS_READ"]);
    const wider = await execute<SessionData>(CREATE_SESSION, { scopes: ["ADMIN"] }, headers);
    expect(wider.data?.createSession).toMatchObject({ __typename: "ValidationError", field: "scopes" });
  });

  it("refuses to create a session from a session", async () => {
    const { headers } = await seed.tenantWithKey();
    const first = await execute<SessionData>(CREATE_SESSION, {}, headers);
    const second = await execute(CREATE_SESSION, {}, { authorization: `Bearer ${first.data?.createSession.token}` });
    expect(second.errors?.[0]).toMatchObject({ extensions: { code: "FORBIDDEN" } });
  });

  it("refuses tampered, expired and foreign-signed tokens, and sessions of revoked keys", async () => {
    const { tenant, apiKey, headers } = await seed.tenantWithKey();
    const { keyring } = testServices;
    const { token } = await issueSessionToken(
      keyring,
      { tenantId: tenant.id, apiKeyId: apiKey.id, scopes: ["admin"] },
      600,
    );
    const [header, payload, signature] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload as string, "base64url").toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, tid: "00000000-0000-0000-0000-000000000000" })).toString("base64url")}.${signature}`;
    const expired = (
      await issueSessionToken(keyring, { tenantId: tenant.id, apiKeyId: apiKey.id, scopes: ["admin"] }, -60)
    ).token;
    const foreignKeyring = parseMasterKeys(generateMasterKey());
    const foreign = (
      await issueSessionToken(foreignKeyring, { tenantId: tenant.id, apiKeyId: apiKey.id, scopes: ["admin"] }, 600)
    ).token;

    const messages = [];
    for (const candidate of [forged, expired, foreign]) {
      const result = await execute(VIEWER, {}, { authorization: `Bearer ${candidate}` });
      expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      messages.push(result.errors?.[0]?.message);
    }
    expect(messages).toEqual(["Invalid session token", "Session has expired", "Invalid session token"]);

    await execute(`mutation { revokeApiKey(id: "${gid("ApiKey", apiKey.id)}") { __typename } }`, {}, headers);
    const afterRevoke = await execute(VIEWER, {}, { authorization: `Bearer ${token}` });
    expect(afterRevoke.errors?.[0]?.message).toBe("Session's API key has been revoked");
  });

  it("keeps sessions valid across a master key rotation (old key kept for verifying)", async () => {
    const { tenant, apiKey } = await seed.tenantWithKey();
    const original = testServices.authenticator;
    const { token } = await original.issueSession({ tenantId: tenant.id, apiKeyId: apiKey.id, scopes: ["admin"] });
    const rotated = generateMasterKey();
    const oldEntry = `${original.keyring.current.id}:${original.keyring.current.key.toString("base64")}`;
    const bearer = { authorization: `Bearer ${token}` };
    try {
      testServices.authenticator = new Authenticator({
        keyring: parseMasterKeys(`${rotated},${oldEntry}`),
        sessionTtlSeconds: 3_600,
      });
      expect((await execute(VIEWER, {}, bearer)).errors).toBeUndefined();
      // The old key is what verifies it: with the new key alone, the session is refused.
      testServices.authenticator = new Authenticator({ keyring: parseMasterKeys(rotated), sessionTtlSeconds: 3_600 });
      expect((await execute(VIEWER, {}, bearer)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    } finally {
      testServices.authenticator = original;
    }
  });
});

describe("tokens from an external identity provider (JWKS on loopback)", () => {
  let jwksServer: Server;
  let signingKey: CryptoKey;
  const issuer = "https://idp.test/";
  const audience = "signalpost";
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
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    testServices.authenticator = new Authenticator({
      keyring: original.keyring,
      sessionTtlSeconds: 3_600,
      externalJwt: { jwksUrl, issuer, audience, tenantClaim: "signalpost_tenant", scopesClaim: "scope" },
    });
  });
  afterAll(() => {
    testServices.authenticator = original;
    jwksServer.close();
  });

  async function idpToken(claims: Record<string, unknown>, options: { audience?: string; key?: CryptoKey } = {}) {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "idp-1" })
      .setIssuer(issuer)
      .setAudience(options.audience ?? audience)
      .setSubject("user-42")
      .setExpirationTime("5m")
      .sign(options.key ?? signingKey);
  }

  it("maps the tenant and scope claims to a viewer", async () => {
    const { tenant } = await seed.tenantWithKey();
    const token = await idpToken({
      signalpost_tenant: tenant.slug,
      scope: "endpoints:read bogus:scope agents:read",
      name: "Ada",
    });
    const result = await execute<ViewerData & { viewer: { expiresAt: string } }>(
      VIEWER,
      {},
      { authorization: `Bearer ${token}` },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.viewer).toMatchObject({
      method: "EXTERNAL",
      scopes: ["ENDPOINTS_READ", "AGENTS_READ"],
      tenant: { slug: tenant.slug },
      apiKey: null,
    });
  });

  it("refuses a wrong audience, an unknown tenant and a token signed by another key", async () => {
    const { tenant } = await seed.tenantWithKey();
    const stranger = (await generateKeyPair("RS256")).privateKey;
    const candidates = [
      await idpToken({ signalpost_tenant: tenant.slug, scope: "admin" }, { audience: "someone-else" }),
      await idpToken({ signalpost_tenant: "no-such-tenant", scope: "admin" }),
      await idpToken({ signalpost_tenant: tenant.slug, scope: "admin" }, { key: stranger }),
    ];
    for (const token of candidates) {
      const result = await execute(VIEWER, {}, { authorization: `Bearer ${token}` });
      expect(result.status).toBe(401);
      expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    }
  });
});

describe("WebSocket transport", () => {
  let api: RunningApiServer;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(async () => {
    await api.close();
  });

  function client(
    connectionParams?: Record<string, unknown>,
    onClose?: (event: { code: number; reason: string }) => void,
  ) {
    return createClient({
      url: api.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams,
      on: { closed: (event) => onClose?.(event as { code: number; reason: string }) },
    });
  }

  it("authenticates operations with the token from connectionParams", async () => {
    const { token } = await seed.tenantWithKey({ scopes: ["keys:read"] });
    const ws = client({ authorization: `Bearer ${token}` });
    const results = [];
    for await (const result of ws.iterate({ query: "query { viewer { scopes } }" })) results.push(result);
    await ws.dispose();
    expect(results).toEqual([{ data: { viewer: { scopes: ["KEYS_READ"] } } }]);
  });

  it("closes the connection with 4401 on a bad token", async () => {
    let closed: { code: number; reason: string } | undefined;
    const ws = client({ apiKey: "sp_nope" }, (event) => {
      closed = event;
    });
    await expect(
      (async () => {
        for await (const _ of ws.iterate({ query: "{ serverInfo { version } }" })) {
          // nothing arrives
        }
      })(),
    ).rejects.toBeDefined();
    await ws.dispose();
    expect(closed).toMatchObject({ code: 4401, reason: "Invalid API key" });
  });

  it("refuses protected operations on an anonymous connection", async () => {
    const ws = client();
    const results = [];
    for await (const result of ws.iterate({ query: "query { viewer { scopes } }" })) results.push(result);
    await ws.dispose();
    expect(results[0]?.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});
