import { createHash, createHmac, randomBytes } from "node:crypto";
import { ValidationError } from "../../lib/errors.js";
import {
  matchesAnySignature,
  parseWebhookSecret,
  signGitHub,
  signWebhook,
  verifyGitHubSignature,
  verifyStandardWebhook,
} from "../../lib/webhook-signature.js";

/**
 * How an agent tells its sender's requests from forgeries: one scheme per agent, each the algorithm its sender
 * documents. Pure functions of headers, body, secrets and the clock (inbound.ts turns a verdict into an answer).
 * Every scheme keys HMAC-SHA256 with the secret's UTF-8 bytes as given, except Standard Webhooks, whose `whsec_`
 * secrets are base64 (webhook-signature.ts); every comparison is constant-time.
 */
export const VERIFICATION_SCHEMES = [
  "STANDARD_WEBHOOKS",
  "GITHUB",
  "HMAC_SHA256",
  "STRIPE",
  "SHOPIFY",
  "SLACK",
] as const;
export type VerificationScheme = (typeof VERIFICATION_SCHEMES)[number];

/** Seconds a signed timestamp may be from now, either way (Standard Webhooks', Stripe's and Slack's own default). */
export const TIMESTAMP_TOLERANCE_SECONDS = 300;
/** Longest id kept for replay checks (GitHub's and Shopify's are 36-character GUIDs). */
export const MAX_MESSAGE_ID_LENGTH = 256;

/**
 * Replay ids of senders that may redeliver an old request under the same id (GitHub and Shopify let anyone
 * redeliver for days) carry one of these prefixes and are kept 72 hours (inbound.store.ts); the others 15 minutes,
 * three times the timestamp tolerance (a request signed up to 5 minutes ahead of this clock stays valid 10 minutes
 * after it was accepted; the hourly retention job deletes later still), and HMAC_SHA256's body-hash window.
 */
export const LONG_LIVED_ID_PREFIXES = ["github:", "shopify:"] as const;

export type VerificationCode = "SIGNATURE_MISSING" | "SIGNATURE_INVALID" | "TIMESTAMP_STALE";

export type Verdict =
  | {
      ok: true;
      /** What an accepted request is remembered by, so that the same request again answers 401 REPLAYED. */
      replayId: string;
      /** The header that names the request, for the REPLAYED message. */
      replayIdFrom: string;
    }
  | { ok: false; code: VerificationCode; message: string };

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const hmac = (secret: string, data: string | Buffer) =>
  createHmac("sha256", Buffer.from(secret, "utf8")).update(data).digest();

const refuse = (code: VerificationCode, message: string): Verdict => ({ ok: false, code, message });

function replayVerdict(replayId: string, replayIdFrom: string): Verdict {
  if (replayId.length > MAX_MESSAGE_ID_LENGTH) {
    return refuse("SIGNATURE_MISSING", `send ${replayIdFrom}, 1 to ${MAX_MESSAGE_ID_LENGTH} characters`);
  }
  return { ok: true, replayId, replayIdFrom };
}

/** A signed timestamp in seconds, or undefined when it is not one. */
function seconds(text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

const stale = (signedAt: number, now: number) =>
  Math.abs(Math.floor(now / 1000) - signedAt) > TIMESTAMP_TOLERANCE_SECONDS;

export interface VerifyInput {
  headers: Headers;
  body: Buffer;
  /** The agent's secrets that sign (today one). */
  secrets: readonly string[];
  now?: number;
}

/** What each scheme's sender must send, for the API (`AgentVerification.senderSends`), the panel and refusals. */
export const SENDER_SENDS: Record<VerificationScheme, string> = {
  STANDARD_WEBHOOKS:
    "webhook-id, webhook-timestamp (within 5 minutes) and webhook-signature (v1,<base64 HMAC-SHA256 of id.timestamp.body>)",
  GITHUB: "X-Hub-Signature-256 (sha256=<hex HMAC-SHA256 of the body>) and X-GitHub-Delivery",
  HMAC_SHA256:
    "X-Hub-Signature-256 or X-Webhook-Signature: the hex HMAC-SHA256 of the body, with or without sha256= (the same body twice within 15 minutes is a replay)",
  STRIPE: "Stripe-Signature (t=<seconds>,v1=<hex HMAC-SHA256 of t.body>, t within 5 minutes)",
  SHOPIFY: "X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the body) and X-Shopify-Webhook-Id",
  SLACK:
    "X-Slack-Request-Timestamp (within 5 minutes) and X-Slack-Signature (v0=<hex HMAC-SHA256 of v0:timestamp:body>)",
};

const missing = (scheme: VerificationScheme) => refuse("SIGNATURE_MISSING", `send ${SENDER_SENDS[scheme]}`);

const sha256 = (body: Buffer) => createHash("sha256").update(body).digest("hex");

/**
 * Whether `secret` can verify `scheme`: Standard Webhooks secrets are base64 (optionally `whsec_`), 24 to 64 bytes;
 * the others key HMAC with the text as given. @throws ValidationError on `field`.
 */
export function checkSecretFor(scheme: VerificationScheme, secret: string, field: string): void {
  if (scheme !== "STANDARD_WEBHOOKS") return;
  try {
    parseWebhookSecret(secret, field);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(`${error.message}: STANDARD_WEBHOOKS needs a Standard Webhooks secret`, field);
  }
}

/** Checks a request against the agent's scheme. The code says which check failed; nothing says what was expected. */
export function verifyInbound(scheme: VerificationScheme, input: VerifyInput): Verdict {
  const now = input.now ?? Date.now();
  const { headers, body, secrets } = input;
  switch (scheme) {
    case "STANDARD_WEBHOOKS": {
      // Refused on save, but a row written by hand (or by an older version) must not turn requests into 500s.
      if (!secrets.every((secret) => isStandardSecret(secret)))
        return refuse("SIGNATURE_INVALID", "the agent's secret is not a Standard Webhooks secret; replace it");
      const result = verifyStandardWebhook({
        headers,
        body,
        secrets,
        toleranceSeconds: TIMESTAMP_TOLERANCE_SECONDS,
        now,
      });
      if (result.ok) return replayVerdict(result.msgId as string, "webhook-id");
      if (result.reason === "missing") return missing(scheme);
      return result.reason === "stale"
        ? refuse("TIMESTAMP_STALE", "webhook-timestamp is more than 5 minutes from now")
        : refuse("SIGNATURE_INVALID", "no webhook-signature matches");
    }
    case "GITHUB": {
      const signature = header(headers, "x-hub-signature-256");
      const delivery = header(headers, "x-github-delivery");
      if (!signature || !delivery) return missing(scheme);
      if (!verifyGitHubSignature({ header: signature, body, secrets }).ok)
        return refuse("SIGNATURE_INVALID", "X-Hub-Signature-256 does not match");
      return replayVerdict(`github:${delivery}`, "X-GitHub-Delivery");
    }
    case "HMAC_SHA256": {
      const given = header(headers, "x-hub-signature-256") ?? header(headers, "x-webhook-signature");
      if (!given?.trim()) return missing(scheme);
      const hex = given.trim().replace(/^sha256=/i, "");
      if (!/^[0-9a-fA-F]{64}$/.test(hex)) return refuse("SIGNATURE_INVALID", "the signature is not 64 hex digits");
      const expected = secrets.map((secret) => hmac(secret, body));
      if (!matchesAnySignature(Buffer.from(hex, "hex"), expected))
        return refuse("SIGNATURE_INVALID", "the signature does not match");
      // Nothing in the request names it, so the body does: the same body again within the window is a replay.
      return replayVerdict(`body:${sha256(body)}`, "body");
    }
    case "STRIPE": {
      const text = header(headers, "stripe-signature");
      if (!text) return missing(scheme);
      const parts = text.split(",").map((part) => part.trim().split("="));
      const signedAt = seconds(parts.find(([key]) => key === "t")?.[1]);
      const presented = parts.filter(([key, value]) => key === "v1" && value).map(([, value]) => value as string);
      if (signedAt === undefined || presented.length === 0) return missing(scheme);
      const expected = secrets.map((secret) => hmac(secret, Buffer.concat([Buffer.from(`${signedAt}.`), body])));
      const matched = presented.find(
        (value) => /^[0-9a-fA-F]{64}$/.test(value) && matchesAnySignature(Buffer.from(value, "hex"), expected),
      );
      if (!matched) return refuse("SIGNATURE_INVALID", "no v1 signature of Stripe-Signature matches");
      if (stale(signedAt, now))
        return refuse("TIMESTAMP_STALE", "Stripe-Signature's t is more than 5 minutes from now");
      // By what was signed, not by which of several v1 signatures was sent.
      return replayVerdict(`stripe:${signedAt}:${sha256(body)}`, "Stripe-Signature");
    }
    case "SHOPIFY": {
      const given = header(headers, "x-shopify-hmac-sha256");
      const webhookId = header(headers, "x-shopify-webhook-id");
      if (!given?.trim() || !webhookId) return missing(scheme);
      const presented = Buffer.from(given.trim(), "base64");
      if (
        !matchesAnySignature(
          presented,
          secrets.map((secret) => hmac(secret, body)),
        )
      )
        return refuse("SIGNATURE_INVALID", "X-Shopify-Hmac-Sha256 does not match");
      return replayVerdict(`shopify:${webhookId}`, "X-Shopify-Webhook-Id");
    }
    case "SLACK": {
      const signedAt = seconds(header(headers, "x-slack-request-timestamp"));
      const given = header(headers, "x-slack-signature")?.trim();
      if (signedAt === undefined || !given) return missing(scheme);
      const hex = /^v0=([0-9a-fA-F]{64})$/.exec(given)?.[1];
      if (!hex) return refuse("SIGNATURE_INVALID", "X-Slack-Signature is not v0= and 64 hex digits");
      const expected = secrets.map((secret) => hmac(secret, Buffer.concat([Buffer.from(`v0:${signedAt}:`), body])));
      if (!matchesAnySignature(Buffer.from(hex, "hex"), expected))
        return refuse("SIGNATURE_INVALID", "X-Slack-Signature does not match");
      if (stale(signedAt, now))
        return refuse("TIMESTAMP_STALE", "X-Slack-Request-Timestamp is more than 5 minutes from now");
      return replayVerdict(`slack:${signedAt}:${sha256(body)}`, "X-Slack-Signature");
    }
  }
}

function isStandardSecret(secret: string): boolean {
  try {
    parseWebhookSecret(secret);
    return true;
  } catch {
    return false;
  }
}

/**
 * The headers a sender of `scheme` would send for `body`, signed with `secret`: what sendTestWebhook sends through
 * the agent's own URL. Tests check each against the provider's own signer or verifier.
 */
export function signInbound(
  scheme: VerificationScheme,
  body: string,
  secret: string,
  now = Date.now(),
): Record<string, string> {
  const signedAt = Math.floor(now / 1000);
  const id = randomBytes(12).toString("hex");
  switch (scheme) {
    case "STANDARD_WEBHOOKS":
      return signWebhook({ msgId: `msg_test_${id}`, timestamp: new Date(now), body, secrets: [secret] });
    case "GITHUB":
      return { "x-hub-signature-256": signGitHub(body, secret), "x-github-delivery": `test-${id}` };
    case "HMAC_SHA256":
      return { "x-hub-signature-256": signGitHub(body, secret) };
    case "STRIPE":
      return { "stripe-signature": `t=${signedAt},v1=${hmac(secret, `${signedAt}.${body}`).toString("hex")}` };
    case "SHOPIFY":
      return { "x-shopify-hmac-sha256": hmac(secret, body).toString("base64"), "x-shopify-webhook-id": `test-${id}` };
    case "SLACK":
      return {
        "x-slack-request-timestamp": String(signedAt),
        "x-slack-signature": `v0=${hmac(secret, `v0:${signedAt}:${body}`).toString("hex")}`,
      };
  }
}
