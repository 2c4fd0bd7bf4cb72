import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { pool, prisma } from "../../src/db/prisma.js";
import { seed } from "../support/seed.js";

// The migration that gave agents a verification scheme decides each existing agent's scheme from what it received
// (before it, an agent accepted both Standard Webhooks and GitHub). Its UPDATE is run here, as written in the
// migration (narrowed to this test's tenant), against agents with each history.
const MIGRATION = new URL(
  "../../prisma/migrations/20261212000000_agent_verification_scheme/migration.sql",
  import.meta.url,
);

describe("the upgrade to verification schemes", () => {
  it("gives GITHUB to agents that only received GitHub requests (test webhooks aside), STANDARD_WEBHOOKS to every other", async () => {
    const sql = await readFile(MIGRATION, "utf8");
    const update = sql.slice(sql.indexOf('UPDATE "Agent"'));
    expect(update).toMatch(/^UPDATE "Agent" a SET "verificationScheme" = 'GITHUB'/);
    const { tenant } = await seed.tenantWithKey();
    const agent = (name: string) =>
      prisma.agent.create({ data: { tenantId: tenant.id, name, encryptedSecret: "sealed", status: "ACTIVE" } });
    const execution = (agentId: string, headers: Record<string, string>) =>
      prisma.agentExecution.create({ data: { tenantId: tenant.id, agentId, payload: {}, rawBody: "{}", headers } });
    const github = await agent("github-executions");
    await execution(github.id, { "x-github-delivery": "d-1" });
    const githubIdOnly = await agent("github-replay-id");
    await prisma.inboundMessage.create({ data: { agentId: githubIdOnly.id, messageId: "github:d-2" } });
    const standard = await agent("standard");
    await execution(standard.id, { "webhook-id": "msg_1" });
    const both = await agent("both");
    await execution(both.id, { "x-github-delivery": "d-3" });
    await prisma.inboundMessage.create({ data: { agentId: both.id, messageId: "msg_2" } });
    const quiet = await agent("never-called");
    // Tested from the panel once (sendTestWebhook signed Standard Webhooks then), otherwise only GitHub.
    const tested = await agent("github-and-a-test");
    await execution(tested.id, { "x-github-delivery": "d-4" });
    await execution(tested.id, { "webhook-id": "msg_test_0123456789abcdef01234567" });
    await prisma.inboundMessage.create({
      data: { agentId: tested.id, messageId: "msg_test_0123456789abcdef01234567" },
    });

    // Only this tenant's agents: other test files share the database.
    await pool.query(`${update.trim().replace(/;$/, "")} AND a."tenantId" = $1`, [tenant.id]);

    const schemes = Object.fromEntries(
      (await prisma.agent.findMany({ where: { tenantId: tenant.id } })).map((row) => [
        row.name,
        row.verificationScheme,
      ]),
    );
    expect(schemes).toEqual({
      [github.name]: "GITHUB",
      [githubIdOnly.name]: "GITHUB",
      [standard.name]: "STANDARD_WEBHOOKS",
      [both.name]: "STANDARD_WEBHOOKS",
      [quiet.name]: "STANDARD_WEBHOOKS",
      [tested.name]: "GITHUB",
    });
  });
});
