import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../../src/db/prisma.js";
import { type RunningApiServer, startInboundApiServer } from "../support/api-server.js";
import { execute } from "../support/graphql.js";
import { postSignedWebhook } from "../support/inbound.js";
import { seed, seedEventType } from "../support/seed.js";

let api: RunningApiServer;
beforeAll(async () => {
  api = await startInboundApiServer();
});
afterAll(async () => {
  await api.close();
});

/**
 * The hot paths' statements are prepared once per connection (src/db/prepared.ts). An instance of the previous
 * version keeps running while a newer one migrates: a column added under its prepared statements must not break them.
 */
describe("prepared statements across a migration that adds columns", () => {
  it("keep serving keys, publishes (with and without idempotency keys) and inbound webhooks", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const agent = await execute<{ createAgent: { secret: string; agent: { id: string } } }>(
      `mutation { createAgent(input: { name: "a", status: ACTIVE }) { ... on CreatedAgent { secret agent { id } } } }`,
      {},
      headers,
    );
    const { secret, agent: created } = agent.data?.createAgent ?? { secret: "", agent: { id: "" } };

    const everyPath = async () => {
      const published = await execute<{ publishEvent: { __typename: string } }>(
        `mutation ($key: String) { publishEvent(input: { eventType: "order.created", payload: {}, idempotencyKey: $key }) { __typename } }`,
        { key: null },
        headers,
      );
      const idempotent = await execute<{ publishEvent: { __typename: string } }>(
        `mutation ($key: String) { publishEvent(input: { eventType: "order.created", payload: {}, idempotencyKey: $key }) { __typename } }`,
        { key: randomBytes(6).toString("hex") },
        headers,
      );
      const body = '{"n":1}';
      const inbound = await postSignedWebhook(api.httpUrl, created.id, secret, body);
      return [
        published.errors ?? published.data?.publishEvent.__typename,
        idempotent.errors ?? idempotent.data?.publishEvent.__typename,
        inbound.status,
      ];
    };
    // Several rounds, so every pooled connection has prepared the statements.
    for (let round = 0; round < 6; round += 1)
      expect(await everyPath()).toEqual(["PublishedEvent", "PublishedEvent", 202]);
    for (const table of ["ApiKey", "Event", "Agent"]) {
      await pool.query(`ALTER TABLE "${table}" ADD COLUMN "addedLater" integer`);
    }
    for (let round = 0; round < 6; round += 1)
      expect(await everyPath()).toEqual(["PublishedEvent", "PublishedEvent", 202]);
  });
});
