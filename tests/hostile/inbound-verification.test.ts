import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool, prisma } from "../../src/db/prisma.js";
import { signGitHub, signWebhook } from "../../src/lib/webhook-signature.js";
import { forgetExpiredMessageIds } from "../../src/modules/agents/acceptance.js";
import { MAX_FAILED_VERIFICATIONS_PER_MINUTE, sourceKey } from "../../src/modules/agents/failed-verifications.js";
import { type RunningApiServer, startInboundApiServer } from "../support/api-server.js";
import { execute } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { type JsonAnswer, postFromAddress } from "../support/local-address.js";
import { seed } from "../support/seed.js";

// Forged traffic must not use up an agent's budget, is limited at its own source address, and GitHub-style
// requests cannot be replayed. Senders are told apart by their loopback address: 127.0.0.1 is the real sender,
// other 127.x addresses play attackers (Linux answers the whole 127/8 on loopback).

let api: RunningApiServer;
beforeAll(async () => {
  api = await startInboundApiServer();
});
afterAll(async () => {
  await api.close();
});

async function activeAgent(rateLimitPerMinute?: number, scheme = "STANDARD_WEBHOOKS") {
  const { headers } = await seed.tenantWithKey();
  const created = await execute<{ createAgent: { secret: string; agent: { id: string } } }>(
    `mutation ($input: CreateAgentInput!) { createAgent(input: $input) { ... on CreatedAgent { secret agent { id } } } }`,
    {
      input: {
        name: `agent-${randomBytes(3).toString("hex")}`,
        status: "ACTIVE",
        rateLimitPerMinute,
        verification: { scheme },
      },
    },
    headers,
  );
  const { secret, agent } = created.data?.createAgent ?? { secret: "", agent: { id: "" } };
  return { agentId: agent.id, secret };
}

type Answer = JsonAnswer<{ code?: string; message?: string }>;

/** POSTs to the agent's inbound URL from a chosen loopback address. */
function post(agentId: string, body: string, headers: Record<string, string>, from = "127.0.0.1"): Promise<Answer> {
  return postFromAddress(`http://127.0.0.1:${api.port}/agents/${agentId}/webhook`, body, headers, from);
}

function standard(secret: string, body: string, msgId = `msg_${randomBytes(8).toString("hex")}`) {
  return signWebhook({ msgId, timestamp: new Date(), body, secrets: [secret] });
}

const FORGED_SECRET = `whsec_${randomBytes(32).toString("base64")}`;

describe("the agent's budget counts verified requests only", () => {
  it("forged requests do not use up the budget: the real sender still gets all of it", async () => {
    const { agentId, secret } = await activeAgent(3);
    const body = '{"n":1}';
    for (let i = 0; i < 3; i += 1) {
      expect((await post(agentId, body, standard(FORGED_SECRET, body), "127.0.0.2")).body.code).toBe(
        "SIGNATURE_INVALID",
      );
      expect((await post(agentId, body, {}, "127.0.0.2")).body.code).toBe("SIGNATURE_MISSING");
    }
    for (let i = 0; i < 3; i += 1) expect((await post(agentId, body, standard(secret, body))).status).toBe(202);
    // The budget is still enforced on verified requests.
    const over = await post(agentId, body, standard(secret, body));
    expect(over).toMatchObject({ status: 429, body: { code: "RATE_LIMITED" } });
  });

  it("a replayed request gives back what it spent", async () => {
    const { agentId, secret } = await activeAgent(2);
    const body = '{"n":2}';
    const once = standard(secret, body, "msg_replayed_twice");
    expect((await post(agentId, body, once)).status).toBe(202);
    for (let i = 0; i < 3; i += 1) {
      expect(await post(agentId, body, once, "127.0.0.3")).toMatchObject({ status: 401, body: { code: "REPLAYED" } });
    }
    expect((await post(agentId, body, standard(secret, body))).status).toBe(202);
  });
});

describe("failed verifications are limited per source address", () => {
  it(`after ${MAX_FAILED_VERIFICATIONS_PER_MINUTE} failures in a minute that address gets 429, others are untouched`, async () => {
    const { agentId, secret } = await activeAgent();
    const body = '{"n":3}';
    const attacker = "127.0.0.4";
    for (let i = 0; i < MAX_FAILED_VERIFICATIONS_PER_MINUTE; i += 1) {
      expect((await post(agentId, body, standard(FORGED_SECRET, body), attacker)).status).toBe(401);
    }
    const limited = await post(agentId, body, standard(FORGED_SECRET, body), attacker);
    expect(limited).toMatchObject({ status: 429, body: { code: "TOO_MANY_FAILED_VERIFICATIONS" } });
    expect(limited.body.message).toContain(String(MAX_FAILED_VERIFICATIONS_PER_MINUTE));
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect(Number(limited.retryAfter)).toBeLessThanOrEqual(60);
    // The address is refused before anything is checked, signed or not, for this agent...
    expect((await post(agentId, body, standard(secret, body), attacker)).status).toBe(429);
    // ...while the real sender, elsewhere, is served as before...
    const real = await post(agentId, body, standard(secret, body));
    expect(real.status).toBe(202);
    expect(await prisma.agentExecution.count({ where: { agentId: uuidOf(agentId) } })).toBe(1);
    // ...and so is the same address at another agent: senders behind one address (a provider's egress, a NAT) are
    // not blocked everywhere by failures against one agent.
    const other = await activeAgent();
    expect((await post(other.agentId, body, standard(other.secret, body), attacker)).status).toBe(202);
    // Addresses are counted as hosts: an IPv6 host by its /64 (it can rotate through the rest), IPv4-mapped as IPv4.
    expect(sourceKey("2001:db8:1:2:aaaa::1")).toBe(sourceKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"));
    expect(sourceKey("2001:db8:1:2::1")).not.toBe(sourceKey("2001:db8:1:3::1"));
    expect(sourceKey("::ffff:127.0.0.4")).toBe(sourceKey(attacker));
    expect(sourceKey("::ffff:7f00:4")).toBe(sourceKey(attacker));
  });
});

describe("GitHub-style requests cannot be replayed", () => {
  it("a second request with the same X-GitHub-Delivery answers 401 REPLAYED", async () => {
    const { agentId, secret } = await activeAgent(undefined, "GITHUB");
    const body = '{"action":"opened"}';
    const headers = { "x-hub-signature-256": signGitHub(body, secret), "x-github-delivery": randomUUID() };
    expect((await post(agentId, body, headers)).status).toBe(202);
    const replay = await post(agentId, body, headers);
    expect(replay).toMatchObject({ status: 401, body: { code: "REPLAYED" } });
    expect(replay.body.message).toContain("X-GitHub-Delivery");
    // A new delivery of the same body is a new request.
    expect((await post(agentId, body, { ...headers, "x-github-delivery": randomUUID() })).status).toBe(202);
    expect(await prisma.agentExecution.count({ where: { agentId: uuidOf(agentId) } })).toBe(2);
    // The id outlives the Standard Webhooks window (GitHub signs no timestamp): still a replay an hour on...
    const age = (interval: string) =>
      pool.query(`UPDATE "InboundMessage" SET "receivedAt" = now() - $2::interval WHERE "agentId" = $1`, [
        uuidOf(agentId),
        interval,
      ]);
    await age("1 hour");
    await forgetExpiredMessageIds();
    expect((await post(agentId, body, headers)).body.code).toBe("REPLAYED");
    // ...and forgotten after the 72 hours GitHub allows redeliveries for.
    await age("73 hours");
    await forgetExpiredMessageIds();
    expect(await prisma.inboundMessage.count({ where: { agentId: uuidOf(agentId) } })).toBe(0);
    // A delivery id is the agent's own: another agent may receive the same one.
    const other = await activeAgent(undefined, "GITHUB");
    const otherHeaders = {
      "x-hub-signature-256": signGitHub(body, other.secret),
      "x-github-delivery": headers["x-github-delivery"],
    };
    expect((await post(other.agentId, body, otherHeaders)).status).toBe(202);
  });

  it("a GitHub-style request without X-GitHub-Delivery is refused (a replay could just drop the header)", async () => {
    const { agentId, secret } = await activeAgent(undefined, "GITHUB");
    const body = '{"action":"closed"}';
    const refused = await post(agentId, body, { "x-hub-signature-256": signGitHub(body, secret) });
    expect(refused).toMatchObject({ status: 401, body: { code: "SIGNATURE_MISSING" } });
    expect(refused.body.message).toContain("X-GitHub-Delivery");
    expect(await prisma.agentExecution.count({ where: { agentId: uuidOf(agentId) } })).toBe(0);
  });
});
