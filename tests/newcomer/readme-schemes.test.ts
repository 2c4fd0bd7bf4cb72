import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VERIFICATION_SCHEMES } from "../../src/modules/agents/verification-schemes.js";
import { type RunningApiServer, startInboundApiServer } from "../support/api-server.js";
import { execute } from "../support/graphql.js";
import { seed } from "../support/seed.js";

// Each README block marked `sh scheme=<SCHEME>` is run as written (sh, curl, openssl) against an agent verifying that
// scheme, with WEBHOOK_URL and AGENT_SECRET set as the README says: the agent must queue the request.

let api: RunningApiServer;
beforeAll(async () => {
  api = await startInboundApiServer();
});
afterAll(async () => {
  await api.close();
});

async function readmeBlocks(): Promise<Map<string, string>> {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const blocks = new Map<string, string>();
  for (const match of readme.matchAll(/^```sh scheme=(\w+)\n([\s\S]*?)^```$/gm)) {
    blocks.set(match[1] as string, match[2] as string);
  }
  return blocks;
}

describe("the README's request for each verification scheme", () => {
  it("has one block per scheme", async () => {
    expect([...(await readmeBlocks()).keys()].sort()).toEqual([...VERIFICATION_SCHEMES].sort());
  });

  it.each(VERIFICATION_SCHEMES)("%s: the block, run as written, is queued by an agent verifying it", async (scheme) => {
    const script = (await readmeBlocks()).get(scheme) as string;
    const { headers } = await seed.tenantWithKey();
    // Stripe, Shopify and Slack make the secret; the README's block uses whatever the agent was given.
    const given = ["STRIPE", "SHOPIFY", "SLACK"].includes(scheme) ? randomBytes(20).toString("hex") : undefined;
    const created = await execute<{ createAgent: { secret: string; agent: { webhookUrl: string } } }>(
      `mutation ($input: CreateAgentInput!) { createAgent(input: $input) {
        ... on CreatedAgent { secret agent { webhookUrl } } } }`,
      {
        input: {
          name: `readme-${scheme.toLowerCase()}`,
          status: "ACTIVE",
          verification: { scheme, ...(given ? { secret: given } : {}) },
        },
      },
      headers,
    );
    expect(created.errors).toBeUndefined();
    const createdAgent = created.data?.createAgent;
    if (!createdAgent) throw new Error("createAgent returned no data");
    const { secret, agent } = createdAgent;
    const { stdout } = await promisify(execFile)("sh", ["-c", script], {
      env: { ...process.env, WEBHOOK_URL: agent.webhookUrl, AGENT_SECRET: secret },
    });
    expect(JSON.parse(stdout)).toMatchObject({ status: "queued", executionId: expect.any(String) });
  });
});
