import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, migrate, readMigrations } from "../../src/db/migrator.js";
import { pool, prisma } from "../../src/db/prisma.js";
import { logger } from "../../src/logger.js";
import { createDatabase, dropDatabase } from "../support/databases.js";
import { execute, testServices } from "../support/graphql.js";
import { gid, uuidOf } from "../support/ids.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

/**
 * Custom header values authenticate us to receivers: they are credentials. Stored encrypted, shown masked to every
 * reader (a `deliveries:read` key included), revealed only by the audited, rate-limited `secrets:reveal` path.
 */

const TOKEN = "Bearer s3cret-receiver-token";
const TEAM = "payments-team-value";

let delivering: Delivering;
let receiver: TestReceiver;
beforeAll(async () => {
  delivering = await startDelivering();
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  await receiver.close();
  await delivering.stop();
});

async function endpointWithCredentials() {
  const owner = await seed.tenantWithKey({ scopes: ["admin"] });
  await seedEventType(owner.tenant.id, "order.created");
  const api = outboundApi(owner.headers);
  const endpoint = await api.createEndpoint({
    url: receiver.url,
    headers: { Authorization: TOKEN, "X-Team": TEAM },
  });
  return { owner, api, endpoint };
}

const REVEAL = `mutation ($id: ID!) { revealEndpointHeaders(id: $id) {
  __typename ... on RevealedEndpointHeaders { headers } ... on RateLimitedError { code retryAfterSeconds } } }`;

describe("endpoint custom headers", () => {
  it("stores the values encrypted: no plaintext in the row", async () => {
    const { endpoint } = await endpointWithCredentials();
    const { rows } = await pool.query<{ row: string; sealed: string | null }>(
      `SELECT row_to_json(e)::text AS row, e."sealedHeaders" AS sealed FROM "Endpoint" e WHERE id = $1`,
      [uuidOf(endpoint.id)],
    );
    expect(rows[0]?.row).not.toContain("s3cret-receiver-token");
    expect(rows[0]?.row).not.toContain(TEAM);
    // A compact JWE: five dot-separated parts.
    expect(rows[0]?.sealed?.split(".")).toHaveLength(5);
  });

  it("shows a deliveries:read key no credential through delivery { endpoint }", async () => {
    const { owner, api, endpoint } = await endpointWithCredentials();
    const published = await api.publish({ eventType: "order.created", payload: { n: 1 } });
    const delivery = await until(
      () => prisma.delivery.findFirstOrThrow({ where: { eventId: uuidOf(published.event.id) } }),
      (found) => found.status === "SUCCEEDED",
      "delivery",
    );
    const reader = await seed.keyFor(owner.tenant, { scopes: ["deliveries:read"], name: "reader" });
    const result = await execute<{ delivery: { endpoint: { headers: Record<string, string> } } }>(
      `query ($id: ID!) { delivery(id: $id) { ... on Delivery { endpoint { url headers secret { masked } } } } }`,
      { id: gid("Delivery", delivery.id) },
      reader.headers,
    );
    expect(result.errors).toBeUndefined();
    const text = JSON.stringify(result.data);
    expect(text).not.toContain("s3cret");
    expect(text).not.toContain(TEAM);
    // Names in full, values masked.
    expect(result.data?.delivery.endpoint.headers).toEqual({ Authorization: "••••••••", "X-Team": "••••••••" });

    // The receiver did get the real values.
    const sent = receiver.requests.find((request) => request.headers.authorization === TOKEN);
    expect(sent?.headers["x-team"]).toBe(TEAM);

    // endpoints:read sees the same mask.
    const listed = await execute<{ endpoint: { headers: Record<string, string> } }>(
      `query ($id: ID!) { endpoint(id: $id) { ... on Endpoint { headers } } }`,
      { id: endpoint.id },
      (await seed.keyFor(owner.tenant, { scopes: ["endpoints:read"], name: "lister" })).headers,
    );
    expect(listed.data?.endpoint.headers).toEqual({ Authorization: "••••••••", "X-Team": "••••••••" });
  });

  it("reveals the values only with secrets:reveal, audited and rate limited", async () => {
    const { owner, endpoint } = await endpointWithCredentials();
    const writer = await seed.keyFor(owner.tenant, { scopes: ["endpoints:read", "endpoints:write"], name: "writer" });
    const refused = await execute(REVEAL, { id: endpoint.id }, writer.headers);
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

    const revealer = await seed.keyFor(owner.tenant, { scopes: ["secrets:reveal"], name: "revealer" });
    const revealed = await execute<{ revealEndpointHeaders: { headers: Record<string, string> } }>(
      REVEAL,
      { id: endpoint.id },
      revealer.headers,
    );
    expect(revealed.data?.revealEndpointHeaders).toEqual({
      __typename: "RevealedEndpointHeaders",
      headers: { Authorization: TOKEN, "X-Team": TEAM },
    });
    const audit = await prisma.auditEntry.findFirst({
      where: { tenantId: owner.tenant.id, action: "endpoint_headers.revealed" },
    });
    expect(audit).toMatchObject({ actorId: revealer.apiKey.id, targetId: uuidOf(endpoint.id) });
    expect(JSON.stringify(audit?.metadata)).not.toContain("s3cret");

    // Another tenant's endpoint is NOT_FOUND, like a missing one.
    const stranger = await seed.tenantWithKey({ scopes: ["secrets:reveal"] });
    const foreign = await execute<{ revealEndpointHeaders: { __typename: string } }>(
      REVEAL,
      { id: endpoint.id },
      stranger.headers,
    );
    expect(foreign.data?.revealEndpointHeaders.__typename).toBe("NotFoundError");

    // 10 reveals a minute per actor, shared with the secret's reveal.
    for (let count = 1; count < 10; count += 1) await execute(REVEAL, { id: endpoint.id }, revealer.headers);
    const limited = await execute<{ revealEndpointHeaders: { __typename: string; retryAfterSeconds: number } }>(
      REVEAL,
      { id: endpoint.id },
      revealer.headers,
    );
    expect(limited.data?.revealEndpointHeaders).toMatchObject({ __typename: "RateLimitedError", code: "RATE_LIMITED" });
  });

  it("keeps a stored value sent back masked, and sends a changed one from the next delivery", async () => {
    const { owner, api, endpoint } = await endpointWithCredentials();
    const updated = await api.run<{ updateEndpoint: { __typename: string; headers: Record<string, string> } }>(
      `mutation ($id: ID!, $headers: JSON) { updateEndpoint(id: $id, input: { headers: $headers }) {
        __typename ... on Endpoint { headers } } }`,
      { id: endpoint.id, headers: { Authorization: "••••••••", "X-Team": "new-team" } },
    );
    expect(updated.updateEndpoint.headers).toEqual({ Authorization: "••••••••", "X-Team": "••••••••" });
    const published = await api.publish({ eventType: "order.created", payload: { n: 2 } });
    const sent = await until(
      () =>
        Promise.resolve(
          receiver.requests.find((request) => request.headers["webhook-id"] === published.event.messageId),
        ),
      (found) => found !== undefined,
      "delivery with the changed header",
    );
    expect(sent?.headers.authorization).toBe(TOKEN);
    expect(sent?.headers["x-team"]).toBe("new-team");

    // A mask for a name with no stored value, or a value HTTP cannot carry, is a typed refusal naming the header.
    for (const [headers, field] of [
      [{ "X-New": "••••••••" }, "headers.X-New"],
      [{ "X-Bad": "snow ☃ man" }, "headers.X-Bad"],
    ] as const) {
      const refused = await execute<{ updateEndpoint: { __typename: string; field: string } }>(
        `mutation ($id: ID!, $headers: JSON) { updateEndpoint(id: $id, input: { headers: $headers }) {
          __typename ... on Error { field } } }`,
        { id: endpoint.id, headers },
        owner.headers,
      );
      expect(refused.data?.updateEndpoint).toEqual({ __typename: "ValidationError", field });
    }
  });

  it("sends stored values to a new origin only when they are given again", async () => {
    const { owner, endpoint } = await endpointWithCredentials();
    const elsewhere = receiver.url.replace("127.0.0.1", "localhost");
    // A variable left out leaves its input field out: only the fields given change.
    const update = (variables: { url: string; headers?: Record<string, string> }) =>
      execute<{ updateEndpoint: { __typename: string; field?: string; url?: string } }>(
        `mutation ($id: ID!, $url: String, $headers: JSON) { updateEndpoint(id: $id, input: { url: $url, headers: $headers }) {
          __typename ... on Error { field } ... on Endpoint { url } } }`,
        { id: endpoint.id, ...variables },
        owner.headers,
      );
    // An endpoints:write key could otherwise point the endpoint at its own host and read the values off a test send.
    expect((await update({ url: elsewhere })).data?.updateEndpoint).toEqual({
      __typename: "ValidationError",
      field: "headers",
    });
    const masked = { Authorization: "••••••••", "X-Team": TEAM };
    expect((await update({ url: elsewhere, headers: masked })).data?.updateEndpoint).toEqual({
      __typename: "ValidationError",
      field: "headers.Authorization",
    });
    // Same origin, another path: the stored values stay.
    expect((await update({ url: `${receiver.url}/other` })).data?.updateEndpoint.__typename).toBe("Endpoint");
    // Given again, or dropped, they may go anywhere allowed.
    const given = { Authorization: TOKEN, "X-Team": TEAM };
    expect((await update({ url: elsewhere, headers: given })).data?.updateEndpoint).toEqual({
      __typename: "Endpoint",
      url: elsewhere,
    });
  });

  it("masks credentials in an endpoint URL for readers", async () => {
    const { owner, endpoint } = await endpointWithCredentials();
    // Saving such a URL is refused today; rows from before may still hold one.
    const withUserinfo = receiver.url.replace("http://", "http://deploy:hunter2@");
    await prisma.endpoint.update({ where: { id: uuidOf(endpoint.id) }, data: { url: withUserinfo } });
    const reader = await seed.keyFor(owner.tenant, { scopes: ["endpoints:read"], name: "url reader" });
    const result = await execute<{ endpoint: { url: string } }>(
      `query ($id: ID!) { endpoint(id: $id) { ... on Endpoint { url } } }`,
      { id: endpoint.id },
      reader.headers,
    );
    expect(result.data?.endpoint.url).toBe(withUserinfo.replace("hunter2", "****"));
  });
});

describe("plaintext header values from before encryption at rest", () => {
  it("are moved by the migration, still sent, then sealed at start-up", async () => {
    // The migration on a database holding an endpoint with plaintext headers, as the previous version wrote it.
    const scratch = await createDatabase();
    const before = await mkdtemp(path.join(tmpdir(), "signalpost-migrations-"));
    try {
      const all = await readMigrations();
      const earlier = all.filter((migration) => !migration.name.endsWith("_endpoint_header_encryption"));
      expect(earlier.length).toBe(all.length - 1);
      for (const migration of earlier)
        await cp(path.join(MIGRATIONS_DIR, migration.name), path.join(before, migration.name), { recursive: true });
      await migrate(scratch.url, logger, before);
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      try {
        await client.query(`INSERT INTO "Tenant" (id, slug, name) VALUES (gen_random_uuid(), 'old', 'old')`);
        await client.query(
          `INSERT INTO "Endpoint" (id, "tenantId", name, url, headers, "updatedAt")
           SELECT gen_random_uuid(), id, 'old', 'https://example.com', '{"Authorization":"Bearer legacy"}', now()
           FROM "Tenant"`,
        );
        await client.query(
          `INSERT INTO "Endpoint" (id, "tenantId", name, url, "updatedAt")
           SELECT gen_random_uuid(), id, 'plain', 'https://example.com/2', now() FROM "Tenant"`,
        );
        await migrate(scratch.url, logger);
        const { rows } = await client.query(
          `SELECT name, "headerNames", "sealedHeaders", "legacyPlaintextHeaders" FROM "Endpoint" ORDER BY name`,
        );
        expect(rows).toEqual([
          {
            name: "old",
            headerNames: ["Authorization"],
            sealedHeaders: null,
            legacyPlaintextHeaders: { Authorization: "Bearer legacy" },
          },
          { name: "plain", headerNames: [], sealedHeaders: null, legacyPlaintextHeaders: null },
        ]);
      } finally {
        await client.end();
      }
    } finally {
      await rm(before, { recursive: true, force: true });
      await dropDatabase(scratch.name);
    }

    // A row left so (here: written so directly) is still delivered with its headers before start-up seals it...
    const { api, endpoint } = await endpointWithCredentials();
    await pool.query(
      `UPDATE "Endpoint" SET "sealedHeaders" = NULL, "headerNames" = '{X-Legacy}',
        "legacyPlaintextHeaders" = '{"X-Legacy":"legacy-value"}', "updatedAt" = now() WHERE id = $1`,
      [uuidOf(endpoint.id)],
    );
    const published = await api.publish({ eventType: "order.created", payload: { n: 3 } });
    const sent = await until(
      () =>
        Promise.resolve(
          receiver.requests.find((request) => request.headers["webhook-id"] === published.event.messageId),
        ),
      (found) => found !== undefined,
      "delivery with the legacy header",
    );
    expect(sent?.headers["x-legacy"]).toBe("legacy-value");

    // ...and start-up seals it. (Imported here, so that the file's other tests run against a version without it.)
    const { sealLegacyEndpointHeaders } = await import("../../src/modules/endpoints/endpoint-headers.js");
    expect(await sealLegacyEndpointHeaders(testServices.keyring, logger)).toBeGreaterThanOrEqual(1);
    const { rows } = await pool.query(
      `SELECT row_to_json(e)::text AS row, "legacyPlaintextHeaders" AS legacy, "headerNames" AS names
       FROM "Endpoint" e WHERE id = $1`,
      [uuidOf(endpoint.id)],
    );
    expect(rows[0]).toMatchObject({ legacy: null, names: ["X-Legacy"] });
    expect(rows[0].row).not.toContain("legacy-value");
    expect(await sealLegacyEndpointHeaders(testServices.keyring, logger)).toBe(0);
  });
});
