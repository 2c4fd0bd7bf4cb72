import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type WiredApp, wireApp } from "../../src/app-context.js";
import { pool, prisma } from "../../src/db/prisma.js";
import { logger } from "../../src/logger.js";
import { revokeApiKey } from "../../src/modules/api-keys/api-keys.service.js";
import { execute, testServices } from "../support/graphql.js";
import { seed } from "../support/seed.js";

/**
 * Authentication keeps the API-key rows it reads while it LISTENs for their changes (api-key-rows.ts). These tests
 * prove both halves: a kept row is what answers (a change made without its notice is not seen), and every change
 * that matters announces itself, so revocation, deletion and new scopes still take effect as soon as the notice
 * lands, and a lost notification connection stops the keeping.
 */

const ORIGIN = { actor: { type: "system", id: null, name: "kept rows test" } } as const;

const whoAmI = (headers: Record<string, string>) =>
  execute<{ viewer: { scopes: string[] } }>("{ viewer { scopes } }", {}, headers);

/** The refusal the next request with `headers` gets, or null when it is let in. */
async function refusal(headers: Record<string, string>): Promise<string | null> {
  const result = await whoAmI(headers);
  return result.errors?.[0]?.message ?? null;
}

/** Runs `change` with the "ApiKey" trigger off: the database changes, no notice is sent. */
async function withoutNotice(change: () => Promise<unknown>): Promise<void> {
  await pool.query(`ALTER TABLE "ApiKey" DISABLE TRIGGER "ApiKey_changes"`);
  try {
    await change();
  } finally {
    await pool.query(`ALTER TABLE "ApiKey" ENABLE TRIGGER "ApiKey_changes"`);
  }
}

describe("kept API-key rows", () => {
  let live: WiredApp;
  beforeAll(async () => {
    live = await wireApp({
      databaseUrl: process.env.DATABASE_URL as string,
      logger,
      instance: testServices,
      apiKeyRows: true,
    });
  });
  afterAll(async () => {
    await live.stop(Date.now() + 1_000);
  });

  it("answers from the kept row: a revocation made without its notice is not seen", async () => {
    const { apiKey, headers } = await seed.tenantWithKey();
    expect(await refusal(headers)).toBeNull();
    await withoutNotice(() => prisma.apiKey.update({ where: { id: apiKey.id }, data: { revokedAt: new Date() } }));
    // The row this process keeps still says active: it was the kept row, not a fresh read, that let this in.
    expect(await refusal(headers)).toBeNull();
    // Any noticed change of the key (here its name) drops the kept row, and the revocation shows.
    await prisma.apiKey.update({ where: { id: apiKey.id }, data: { name: "renamed" } });
    await expect.poll(() => refusal(headers)).toBe("API key has been revoked");
  });

  it("sees a revocation through the API as soon as its notice lands", async () => {
    const { tenant, apiKey, headers } = await seed.tenantWithKey();
    expect(await refusal(headers)).toBeNull();
    await revokeApiKey(tenant.id, apiKey.id, ORIGIN);
    // expect.poll gives up after a second: far below the 30 s a kept row lives without a notice.
    await expect.poll(() => refusal(headers)).toBe("API key has been revoked");
  });

  it("sees new scopes and a deleted tenant (the cascade notifies too), each from plain SQL", async () => {
    const { tenant, apiKey, headers } = await seed.tenantWithKey({ scopes: ["endpoints:read", "deliveries:read"] });
    expect((await whoAmI(headers)).data?.viewer.scopes).toEqual(["ENDPOINTS_READ", "DELIVERIES_READ"]);
    await pool.query(`UPDATE "ApiKey" SET scopes = ARRAY['endpoints:read'] WHERE id = $1`, [apiKey.id]);
    await expect.poll(async () => (await whoAmI(headers)).data?.viewer.scopes).toEqual(["ENDPOINTS_READ"]);
    await pool.query(`DELETE FROM "Tenant" WHERE id = $1`, [tenant.id]);
    await expect.poll(() => refusal(headers)).toBe("Invalid API key");
  });

  it("reads every row again while the notification connection is lost, and keeps rows again once it is back", async () => {
    const { apiKey, headers } = await seed.tenantWithKey();
    const other = await seed.tenantWithKey();
    expect(await refusal(headers)).toBeNull();
    await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'signalpost-listen' AND datname = current_database()`,
    );
    await withoutNotice(() => prisma.apiKey.update({ where: { id: apiKey.id }, data: { revokedAt: new Date() } }));
    // No notice was sent, and the row kept before the loss is not trusted: the revocation is read from the table.
    await expect.poll(() => refusal(headers)).toBe("API key has been revoked");
    // Back on a new connection, rows are kept again: a kept row again hides a change made without its notice.
    await expect
      .poll(
        async () => {
          await pool.query(`UPDATE "ApiKey" SET "revokedAt" = NULL WHERE id = $1`, [other.apiKey.id]);
          if ((await refusal(other.headers)) !== null) return "refused";
          await withoutNotice(() =>
            pool.query(`UPDATE "ApiKey" SET "revokedAt" = now() WHERE id = $1`, [other.apiKey.id]),
          );
          return (await refusal(other.headers)) === null ? "kept" : "read again";
        },
        { timeout: 15_000, interval: 100 },
      )
      .toBe("kept");
  });
});
