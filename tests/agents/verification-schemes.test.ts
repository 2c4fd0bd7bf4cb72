import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { sign as octokitSign, verify as octokitVerify } from "@octokit/webhooks-methods";
import { Webhook as StandardWebhook } from "standardwebhooks";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import {
  SENDER_SENDS,
  signInbound,
  type VerificationScheme,
  verifyInbound,
} from "../../src/modules/agents/verification-schemes.js";
import { type RunningApiServer, startInboundApiServer } from "../support/api-server.js";
import { execute, testServices } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { seed } from "../support/seed.js";

// Each scheme against its provider's own signer and verifier where one is on npm (standardwebhooks, @octokit's
// webhooks-methods, stripe), and against the published algorithm where none is (Shopify's and Slack's documented
// HMAC recipes, written out here apart from the code under test).

const stripe = new Stripe("sk_test_signalpost_offline");
const body = '{"id":"evt_1","type":"ticket.created","n":1}';
const buffer = (text: string) => Buffer.from(text);
const now = Date.now();
const SIX_MINUTES_AGO = now - 6 * 60_000;

/** Signers independent of verification-schemes.ts: the providers' libraries, or their documented recipes. */
const providers: Record<
  VerificationScheme,
  (secret: string, text: string, at?: number) => Promise<Record<string, string>>
> = {
  STANDARD_WEBHOOKS: async (secret, text, at = now) => {
    const id = `msg_${randomBytes(6).toString("hex")}`;
    return {
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at / 1000)),
      "webhook-signature": new StandardWebhook(secret).sign(id, new Date(at), text),
    };
  },
  GITHUB: async (secret, text) => ({
    "x-hub-signature-256": await octokitSign(secret, text),
    "x-github-delivery": randomUUID(),
  }),
  HMAC_SHA256: async (secret, text) => ({ "x-hub-signature-256": await octokitSign(secret, text) }),
  STRIPE: async (secret, text, at = now) => ({
    "stripe-signature": stripe.webhooks.generateTestHeaderString({
      payload: text,
      secret,
      timestamp: Math.floor(at / 1000),
    }),
  }),
  // shopify.dev, "Verify webhooks": base64 of HMAC-SHA256 over the raw body, keyed with the app's client secret.
  SHOPIFY: async (secret, text) => ({
    "x-shopify-hmac-sha256": createHmac("sha256", secret).update(text, "utf8").digest("base64"),
    "x-shopify-webhook-id": randomUUID(),
  }),
  // api.slack.com, "Verifying requests from Slack": v0= hex HMAC-SHA256 of "v0:{timestamp}:{body}".
  SLACK: async (secret, text, at = now) => {
    const timestamp = String(Math.floor(at / 1000));
    return {
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${text}`).digest("hex")}`,
    };
  },
};

/** Secrets as each provider hands them out. */
const secretFor = (scheme: VerificationScheme) =>
  scheme === "STANDARD_WEBHOOKS"
    ? `whsec_${randomBytes(24).toString("base64")}`
    : scheme === "STRIPE"
      ? `whsec_${randomBytes(24).toString("hex")}`
      : randomBytes(16).toString("hex");

const SCHEMES = Object.keys(providers) as VerificationScheme[];
const TIMESTAMPED: VerificationScheme[] = ["STANDARD_WEBHOOKS", "STRIPE", "SLACK"];

describe("verifyInbound against each provider's own signer", () => {
  it.each(SCHEMES)(
    "%s: the provider's request passes; a tampered body, a wrong secret, no headers do not",
    async (scheme) => {
      const secret = secretFor(scheme);
      const headers = await providers[scheme](secret, body);
      const verdict = verifyInbound(scheme, { headers, body: buffer(body), secrets: [secret], now });
      expect(verdict).toMatchObject({ ok: true });
      expect(verifyInbound(scheme, { headers, body: buffer(`${body} `), secrets: [secret], now })).toMatchObject({
        ok: false,
        code: "SIGNATURE_INVALID",
      });
      expect(verifyInbound(scheme, { headers, body: buffer(body), secrets: [secretFor(scheme)], now })).toMatchObject({
        ok: false,
        code: "SIGNATURE_INVALID",
      });
      expect(verifyInbound(scheme, { headers: {}, body: buffer(body), secrets: [secret], now })).toMatchObject({
        ok: false,
        code: "SIGNATURE_MISSING",
        message: `send ${SENDER_SENDS[scheme]}`,
      });
    },
  );

  it.each(TIMESTAMPED)("%s: a request signed six minutes ago is TIMESTAMP_STALE", async (scheme) => {
    const secret = secretFor(scheme);
    const headers = await providers[scheme](secret, body, SIX_MINUTES_AGO);
    expect(verifyInbound(scheme, { headers, body: buffer(body), secrets: [secret], now })).toMatchObject({
      ok: false,
      code: "TIMESTAMP_STALE",
    });
  });

  it.each(SCHEMES)("%s: what signInbound (the test sender) sends, the provider's verifier accepts", async (scheme) => {
    const secret = secretFor(scheme);
    const headers = signInbound(scheme, body, secret, now);
    expect(verifyInbound(scheme, { headers, body: buffer(body), secrets: [secret], now })).toMatchObject({ ok: true });
    const signature = (name: string) => headers[name] as string;
    switch (scheme) {
      case "STANDARD_WEBHOOKS":
        expect(new StandardWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
        break;
      case "GITHUB":
      case "HMAC_SHA256":
        expect(await octokitVerify(secret, body, signature("x-hub-signature-256"))).toBe(true);
        break;
      case "STRIPE":
        expect(stripe.webhooks.constructEvent(body, signature("stripe-signature"), secret).id).toBe("evt_1");
        break;
      default: {
        const independent = await providers[scheme](secret, body);
        const name = scheme === "SHOPIFY" ? "x-shopify-hmac-sha256" : "x-slack-signature";
        expect(signature(name)).toBe(independent[name]);
      }
    }
  });

  it("HMAC_SHA256 takes the source document's forms: X-Webhook-Signature, hex with or without sha256=", () => {
    const secret = secretFor("HMAC_SHA256");
    const hex = createHmac("sha256", secret).update(body).digest("hex");
    for (const headers of [
      { "x-webhook-signature": hex },
      { "x-webhook-signature": `sha256=${hex}` },
      { "x-hub-signature-256": hex.toUpperCase() },
      { "x-hub-signature-256": `sha256=${hex}` },
    ]) {
      expect(verifyInbound("HMAC_SHA256", { headers, body: buffer(body), secrets: [secret] })).toMatchObject({
        ok: true,
        replayIdFrom: "body",
      });
    }
  });

  it("a malformed signature is SIGNATURE_INVALID, not SIGNATURE_MISSING", () => {
    const secret = secretFor("GITHUB");
    const malformed: [VerificationScheme, Record<string, string>][] = [
      ["GITHUB", { "x-hub-signature-256": "sha256=deadbeef", "x-github-delivery": randomUUID() }],
      ["HMAC_SHA256", { "x-hub-signature-256": "sha256=deadbeef" }],
      ["HMAC_SHA256", { "x-webhook-signature": "not hex at all" }],
      ["STRIPE", { "stripe-signature": `t=${Math.floor(now / 1000)},v1=deadbeef` }],
      ["SHOPIFY", { "x-shopify-hmac-sha256": "deadbeef", "x-shopify-webhook-id": "1" }],
      ["SLACK", { "x-slack-request-timestamp": String(Math.floor(now / 1000)), "x-slack-signature": "v0=deadbeef" }],
    ];
    for (const [scheme, headers] of malformed) {
      expect(verifyInbound(scheme, { headers, body: buffer(body), secrets: [secret], now })).toMatchObject({
        ok: false,
        code: "SIGNATURE_INVALID",
      });
    }
  });

  it("Stripe-Signature with several v1 signatures (Stripe rolling its secret) passes when any matches", () => {
    const secret = secretFor("STRIPE");
    const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret });
    const rolled = header.replace(",v1=", `,v1=${"0".repeat(64)},v1=`);
    expect(
      verifyInbound("STRIPE", { headers: { "stripe-signature": rolled }, body: buffer(body), secrets: [secret] }),
    ).toMatchObject({ ok: true });
  });
});

// End to end: the agent's URL on a real server, agents created through the API.
let api: RunningApiServer;
beforeAll(async () => {
  api = await startInboundApiServer();
});
afterAll(async () => {
  await api.close();
});

const CREATE = `mutation ($input: CreateAgentInput!) { createAgent(input: $input) {
  ... on CreatedAgent { secret agent { id verification { scheme senderSends } } } ... on Error { __typename field message } } }`;

async function agentVerifying(scheme: VerificationScheme, secret?: string) {
  const { tenant, headers } = await seed.tenantWithKey();
  const created = await execute<{
    createAgent: { secret: string; agent: { id: string; verification: { scheme: string; senderSends: string } } };
  }>(
    CREATE,
    {
      input: {
        name: `agent-${randomBytes(3).toString("hex")}`,
        status: "ACTIVE",
        verification: { scheme, ...(secret ? { secret } : {}) },
      },
    },
    headers,
  );
  const answer = created.data?.createAgent;
  return { tenant, headers, agentId: answer?.agent?.id ?? "", secret: answer?.secret ?? "", created };
}

async function post(agentId: string, text: string, headers: Record<string, string>) {
  const response = await fetch(`${api.httpUrl}/agents/${agentId}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: text,
  });
  return { status: response.status, body: (await response.json()) as { code?: string; message?: string } };
}

describe("an agent's URL verifies by the agent's scheme", () => {
  it.each(SCHEMES)("%s: good 202, tampered 401 SIGNATURE_INVALID, the same again 401 REPLAYED", async (scheme) => {
    // Stripe, Shopify and Slack make the secret: it is given to the agent. The others use the agent's own.
    const given = ["STRIPE", "SHOPIFY", "SLACK"].includes(scheme) ? secretFor(scheme) : undefined;
    const { agentId, secret, created } = await agentVerifying(scheme, given);
    expect(created.data?.createAgent.agent.verification).toEqual({ scheme, senderSends: SENDER_SENDS[scheme] });
    if (given) expect(secret).toBe(given);
    const text = JSON.stringify({ id: `evt_${randomBytes(4).toString("hex")}` });
    const headers = await providers[scheme](secret, text);
    expect(await post(agentId, text, headers)).toMatchObject({ status: 202 });
    expect(await post(agentId, `${text} `, headers)).toMatchObject({
      status: 401,
      body: { code: "SIGNATURE_INVALID" },
    });
    expect(await post(agentId, text, headers)).toMatchObject({ status: 401, body: { code: "REPLAYED" } });
    expect(await prisma.agentExecution.count({ where: { agentId: uuidOf(agentId) } })).toBe(1);
  });

  it.each(TIMESTAMPED)("%s: a request signed six minutes ago answers 401 TIMESTAMP_STALE", async (scheme) => {
    const given = scheme === "STANDARD_WEBHOOKS" ? undefined : secretFor(scheme);
    const { agentId, secret } = await agentVerifying(scheme, given);
    const headers = await providers[scheme](secret, body, SIX_MINUTES_AGO);
    expect(await post(agentId, body, headers)).toMatchObject({ status: 401, body: { code: "TIMESTAMP_STALE" } });
  });

  it("the seed's sender reaches an HMAC_SHA256 agent: X-Hub-Signature-256 alone, and X-Webhook-Signature hex", async () => {
    const { agentId, secret } = await agentVerifying("HMAC_SHA256");
    const hmac = (text: string) => createHmac("sha256", secret).update(text).digest("hex");
    const first = '{"ticket":1}';
    expect(await post(agentId, first, { "X-Hub-Signature-256": `sha256=${hmac(first)}` })).toMatchObject({
      status: 202,
    });
    const second = '{"ticket":2}';
    expect(await post(agentId, second, { "X-Webhook-Signature": hmac(second) })).toMatchObject({ status: 202 });
    const replay = await post(agentId, second, { "X-Webhook-Signature": `sha256=${hmac(second)}` });
    expect(replay).toMatchObject({ status: 401, body: { code: "REPLAYED" } });
    expect(replay.body.message).toContain("15 minutes");
  });

  it("an agent verifying Standard Webhooks refuses a GitHub-signed request, saying what it expects", async () => {
    const { agentId, secret } = await agentVerifying("STANDARD_WEBHOOKS");
    const answer = await post(agentId, body, await providers.GITHUB(secret, body));
    expect(answer).toMatchObject({ status: 401, body: { code: "SIGNATURE_MISSING" } });
    expect(answer.body.message).toContain("webhook-signature");
  });

  it.each(SCHEMES)("%s: sendTestWebhook signs as the scheme's sender and is accepted", async (scheme) => {
    const given = ["STRIPE", "SHOPIFY", "SLACK"].includes(scheme) ? secretFor(scheme) : undefined;
    const { agentId, headers } = await agentVerifying(scheme, given);
    const answer = await execute<{ sendTestWebhook: { statusCode: number; executionId: string | null } }>(
      `mutation ($id: ID!) { sendTestWebhook(agentId: $id, payload: { n: 1 }) { ... on TestWebhookResult { statusCode executionId } } }`,
      { id: agentId },
      headers,
    );
    expect(answer.data?.sendTestWebhook).toMatchObject({ statusCode: 202, executionId: expect.any(String) });
  });

  it("changing the scheme and the sender's secret is audited; the old secret stops working at once", async () => {
    const { agentId, secret, headers, tenant } = await agentVerifying("STANDARD_WEBHOOKS");
    const stripeSecret = secretFor("STRIPE");
    const updated = await execute<{ updateAgent: { verification?: { scheme: string } } }>(
      `mutation ($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) {
        ... on Agent { verification { scheme } } ... on Error { message } } }`,
      { id: agentId, input: { verification: { scheme: "STRIPE", secret: stripeSecret } } },
      headers,
    );
    expect(updated.data?.updateAgent.verification).toEqual({ scheme: "STRIPE" });
    expect(await post(agentId, body, await providers.STRIPE(secret, body))).toMatchObject({
      body: { code: "SIGNATURE_INVALID" },
    });
    expect(await post(agentId, body, await providers.STRIPE(stripeSecret, body))).toMatchObject({ status: 202 });
    const audit = await prisma.auditEntry.findMany({
      where: { tenantId: tenant.id, targetId: uuidOf(agentId) },
      orderBy: { createdAt: "asc" },
    });
    expect(audit.map((entry) => entry.action)).toEqual(["agent.created", "agent.updated", "agent_secret.replaced"]);
    expect(audit[1]?.metadata).toMatchObject({ fields: ["verificationScheme"], verificationScheme: "STRIPE" });
    // The secret itself is in no audit entry.
    expect(JSON.stringify(audit)).not.toContain(stripeSecret);
  });

  it.each([
    ["short", "seven77"],
    ["with a space", "a secret with spaces"],
    ["too long", "x".repeat(257)],
    ["not ASCII", "sécret-très-long"],
  ])("a sender's secret that is %s is refused on verification.secret, and nothing is created", async (_, secret) => {
    const { tenant, created } = await agentVerifying("SLACK", secret);
    expect(created.data?.createAgent).toMatchObject({ __typename: "ValidationError", field: "verification.secret" });
    expect(await prisma.agent.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it("a secret that cannot verify the scheme is refused on save, and one stored anyway answers 401, never 500", async () => {
    // Shopify's app secrets are no Standard Webhooks secret (base64, 24 to 64 bytes).
    const shopify = "shpss_0123456789abcdef0123456789abcdef";
    const refused = await agentVerifying("STANDARD_WEBHOOKS", shopify);
    expect(refused.created.data?.createAgent).toMatchObject({
      __typename: "ValidationError",
      field: "verification.secret",
      message: expect.stringContaining("Standard Webhooks"),
    });
    const { agentId, headers } = await agentVerifying("SHOPIFY", shopify);
    const UPDATE = `mutation ($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) {
      __typename ... on Agent { verification { scheme } } ... on Error { field message } } }`;
    const update = (input: Record<string, unknown>) =>
      execute<{ updateAgent: Record<string, unknown> }>(UPDATE, { id: agentId, input }, headers);
    // The scheme changes, the secret stays: it must suit the new scheme.
    expect((await update({ verification: { scheme: "STANDARD_WEBHOOKS" } })).data?.updateAgent).toMatchObject({
      __typename: "ValidationError",
      field: "verification.secret",
    });
    expect((await update({ verification: { scheme: "SLACK" } })).data?.updateAgent).toMatchObject({
      verification: { scheme: "SLACK" },
    });
    // verification: null changes nothing, like leaving it out.
    expect((await update({ verification: null, name: "renamed" })).data?.updateAgent).toMatchObject({
      verification: { scheme: "SLACK" },
    });
    // Written by hand: the unusable secret is a refusal of the request, not a server error.
    await prisma.agent.update({ where: { id: uuidOf(agentId) }, data: { verificationScheme: "STANDARD_WEBHOOKS" } });
    const answer = await post(agentId, body, signInbound("STANDARD_WEBHOOKS", body, `whsec_${"A".repeat(32)}`));
    expect(answer).toMatchObject({ status: 401, body: { code: "SIGNATURE_INVALID" } });
  });

  it("regenerateAgentSecret with a grace period: both secrets verify until it ends, then only the new one", async () => {
    const { agentId, secret: old, headers, tenant } = await agentVerifying("GITHUB");
    const REGENERATE = `mutation ($id: ID!, $grace: Int) { regenerateAgentSecret(id: $id, gracePeriodSeconds: $grace) {
      __typename ... on CreatedAgent { secret agent { previousSecretExpiresAt } } ... on Error { field message } } }`;
    const regenerate = (grace: number) =>
      execute<{
        regenerateAgentSecret: { secret?: string; agent?: { previousSecretExpiresAt: string | null }; field?: string };
      }>(REGENERATE, { id: agentId, grace }, headers);
    expect((await regenerate(604_801)).data?.regenerateAgentSecret).toMatchObject({
      __typename: "ValidationError",
      field: "gracePeriodSeconds",
    });
    const rotated = (await regenerate(3_600)).data?.regenerateAgentSecret;
    const fresh = rotated?.secret as string;
    expect(Date.parse(rotated?.agent?.previousSecretExpiresAt as string)).toBeGreaterThan(Date.now() + 3_500_000);
    const send = async (secret: string) => (await post(agentId, body, await providers.GITHUB(secret, body))).status;
    expect(await send(old)).toBe(202);
    expect(await send(fresh)).toBe(202);
    // The grace period ends on the clock: the secrets an instance holds for the agent drop the old one then.
    const row = await prisma.agent.findUniqueOrThrow({ where: { id: uuidOf(agentId) } });
    const versioned = { ...row, version: `grace-${randomBytes(4).toString("hex")}` };
    expect(await testServices.agentSecrets.secretsOf(versioned)).toEqual([fresh, old]);
    expect(await testServices.agentSecrets.secretsOf(versioned, Date.now() + 3_601_000)).toEqual([fresh]);
    await prisma.agent.update({
      where: { id: uuidOf(agentId) },
      data: { previousSecretExpiresAt: new Date(Date.now() - 1_000) },
    });
    expect(await send(old)).toBe(401);
    expect(await send(fresh)).toBe(202);
    // Without a grace period (the default) the old secret stops at once.
    const again = (await regenerate(0)).data?.regenerateAgentSecret;
    expect(again?.agent?.previousSecretExpiresAt).toBeNull();
    expect(await send(fresh)).toBe(401);
    expect(await send(again?.secret as string)).toBe(202);
    const audit = await prisma.auditEntry.findMany({
      where: { tenantId: tenant.id, action: "agent_secret.regenerated" },
      orderBy: { createdAt: "asc" },
    });
    expect(audit.map((entry) => entry.metadata)).toEqual([{ gracePeriodSeconds: 3_600 }, { gracePeriodSeconds: 0 }]);
  });
});
