import pg from "pg";
import { describe, expect, it } from "vitest";
import { pool } from "../../src/db/prisma.js";
import { backfillSecretMasks, UNKNOWN_SECRET_MASK } from "../../src/db/secret-masks.js";
import { maskSecret } from "../../src/lib/secret-box.js";
import { logger } from "../../src/logger.js";
import { createAgent } from "../../src/modules/agents/agents.service.js";
import { createEndpoint, rotateEndpointSecret } from "../../src/modules/endpoints/endpoints.service.js";
import { execute, testServices } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { seed } from "../support/seed.js";

/**
 * Listings show secrets masked from a column written with the secret (issue 15, item 5): listing decrypts nothing and
 * loads no secret row per endpoint; revealing and signing still decrypt.
 */

const origin = { actor: { type: "system" as const, id: null, name: "test" } };

/** A well-formed sealed secret whose master key ("gone") is not configured: opening it throws. */
const UNOPENABLE = `${Buffer.from(JSON.stringify({ alg: "dir", enc: "A256GCM", kid: "gone" })).toString("base64url")}..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA`;

const LIST_ENDPOINTS = `query ($first: Int) { endpoints(first: $first) { edges { node { name secret { masked version } } } } }`;
type EndpointList = { endpoints: { edges: { node: { name: string; secret: { masked: string; version: number } } }[] } };

async function endpointsWithSecrets(tenantId: string, count: number): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  for (let index = 0; index < count; index += 1) {
    const name = `hooks-${index}`;
    const { secret } = await createEndpoint(
      tenantId,
      { name, url: "https://hooks.example.com/in" },
      origin,
      testServices,
    );
    secrets.set(name, secret);
  }
  return secrets;
}

/** The SQL texts sent through every pg client (Prisma's adapter and the raw pool alike) while `run` runs. */
async function statementsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const texts: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [first] = args;
    texts.push(typeof first === "string" ? first : String((first as { text?: string } | undefined)?.text ?? ""));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await run();
  } finally {
    pg.Client.prototype.query = original;
  }
  return texts;
}

describe("stored secret masks", () => {
  it("lists a page of endpoints with one query for all their secrets, not one per endpoint", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    await endpointsWithSecrets(tenant.id, 30);
    // Warm up authentication (key lookup, last-used refresh), so both measured requests do the same work around it.
    await execute(LIST_ENDPOINTS, { first: 1 }, headers);

    const secretQueries = async (first: number) => {
      const texts = await statementsDuring(async () => {
        const listed = await execute<EndpointList>(LIST_ENDPOINTS, { first }, headers);
        expect(listed.errors).toBeUndefined();
        expect(listed.data?.endpoints.edges).toHaveLength(first);
      });
      return texts.filter((text) => text.includes('"EndpointSecret"')).length;
    };
    // One statement loads the newest secret of every endpoint on the page, whatever the page's size.
    expect(await secretQueries(3)).toBe(1);
    expect(await secretQueries(30)).toBe(1);
  });

  it("lists endpoints and agents with their masks when no stored secret can be decrypted", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    const secrets = await endpointsWithSecrets(tenant.id, 3);
    const { agent, secret: agentSecret } = await createAgent(
      tenant.id,
      { name: "inbox" },
      origin,
      testServices.keyring,
    );
    await pool.query(
      `UPDATE "EndpointSecret" SET encrypted = $2 WHERE "endpointId" IN (SELECT id FROM "Endpoint" WHERE "tenantId" = $1)`,
      [tenant.id, UNOPENABLE],
    );
    await pool.query(`UPDATE "Agent" SET "encryptedSecret" = $2 WHERE id = $1`, [agent.id, UNOPENABLE]);

    const listed = await execute<EndpointList>(LIST_ENDPOINTS, { first: 10 }, headers);
    expect(listed.errors).toBeUndefined();
    const masks = Object.fromEntries(listed.data?.endpoints.edges.map(({ node }) => [node.name, node.secret]) ?? []);
    expect(masks).toEqual(
      Object.fromEntries([...secrets].map(([name, secret]) => [name, { masked: maskSecret(secret), version: 1 }])),
    );

    const agents = await execute<{ agents: { edges: { node: { maskedSecret: string } }[] } }>(
      "{ agents { edges { node { maskedSecret } } } }",
      {},
      headers,
    );
    expect(agents.errors).toBeUndefined();
    expect(agents.data?.agents.edges.map(({ node }) => node.maskedSecret)).toEqual([
      `••••••••${agentSecret.slice(-4)}`,
    ]);
  });

  it("stores the new secret's mask on rotation and on regeneration, and keeps the old version's", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    const { endpoint, secret: first } = await createEndpoint(
      tenant.id,
      { name: "hooks", url: "https://hooks.example.com/in" },
      origin,
      testServices,
    );
    const endpointId = endpoint.id;
    const rotated = await rotateEndpointSecret(
      tenant.id,
      endpointId,
      { gracePeriodSeconds: 60 },
      origin,
      testServices.keyring,
    );
    const { rows } = await pool.query<{ version: number; masked: string }>(
      `SELECT version, masked FROM "EndpointSecret" WHERE "endpointId" = $1 ORDER BY version`,
      [endpointId],
    );
    expect(rows).toEqual([
      { version: 1, masked: maskSecret(first) },
      { version: 2, masked: maskSecret(rotated.secret) },
    ]);
    const listed = await execute<EndpointList>(LIST_ENDPOINTS, {}, headers);
    expect(listed.data?.endpoints.edges[0]?.node.secret).toEqual({ masked: maskSecret(rotated.secret), version: 2 });

    const created = await execute<{ createAgent: { agent: { id: string } } }>(
      `mutation { createAgent(input: { name: "relay" }) { ... on CreatedAgent { agent { id } } } }`,
      {},
      headers,
    );
    const agentId = created.data?.createAgent.agent.id as string;
    const regenerated = await execute<{ regenerateAgentSecret: { secret: string; agent: { maskedSecret: string } } }>(
      `mutation ($id: ID!) { regenerateAgentSecret(id: $id) { ... on CreatedAgent { secret agent { maskedSecret } } } }`,
      { id: agentId },
      headers,
    );
    const newSecret = regenerated.data?.regenerateAgentSecret.secret as string;
    expect(regenerated.data?.regenerateAgentSecret.agent.maskedSecret).toBe(`••••••••${newSecret.slice(-4)}`);
    const stored = await pool.query<{ maskedSecret: string }>(`SELECT "maskedSecret" FROM "Agent" WHERE id = $1`, [
      uuidOf(agentId),
    ]);
    expect(stored.rows[0]?.maskedSecret).toBe(`••••••••${newSecret.slice(-4)}`);
  });

  it("fills the masks of rows written before they were stored, once, and lists an unopenable one without failing", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    const secrets = await endpointsWithSecrets(tenant.id, 3);
    const { agent, secret: agentSecret } = await createAgent(
      tenant.id,
      { name: "inbox" },
      origin,
      testServices.keyring,
    );
    // As the migration leaves them: no masks yet, and one secret sealed under a master key since removed.
    await pool.query(
      `UPDATE "EndpointSecret" SET masked = NULL WHERE "endpointId" IN (SELECT id FROM "Endpoint" WHERE "tenantId" = $1)`,
      [tenant.id],
    );
    await pool.query(`UPDATE "Agent" SET "maskedSecret" = NULL WHERE id = $1`, [agent.id]);
    await pool.query(
      `UPDATE "EndpointSecret" SET encrypted = $2 WHERE "endpointId" = (SELECT id FROM "Endpoint" WHERE "tenantId" = $1 AND name = 'hooks-2')`,
      [tenant.id, UNOPENABLE],
    );

    expect(await backfillSecretMasks(testServices.keyring, logger)).toBe(3);
    expect(await backfillSecretMasks(testServices.keyring, logger)).toBe(0);

    const listed = await execute<EndpointList>(LIST_ENDPOINTS, { first: 10 }, headers);
    expect(listed.errors).toBeUndefined();
    const masks = Object.fromEntries(
      listed.data?.endpoints.edges.map(({ node }) => [node.name, node.secret.masked]) ?? [],
    );
    expect(masks).toEqual({
      "hooks-0": maskSecret(secrets.get("hooks-0") as string),
      "hooks-1": maskSecret(secrets.get("hooks-1") as string),
      "hooks-2": UNKNOWN_SECRET_MASK,
    });
    const agents = await execute<{ agents: { edges: { node: { maskedSecret: string } }[] } }>(
      "{ agents { edges { node { maskedSecret } } } }",
      {},
      headers,
    );
    expect(agents.data?.agents.edges[0]?.node.maskedSecret).toBe(`••••••••${agentSecret.slice(-4)}`);
  });
});
