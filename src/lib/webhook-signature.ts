import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ValidationError } from "./errors.js";

/**
 * Webhook signatures: Standard Webhooks (https://www.standardwebhooks.com) for what we send and accept, and GitHub's
 * X-Hub-Signature-256 for what we accept. Every comparison is constant-time and no result carries an expected value.
 */

const SECRET_PREFIX = "whsec_";
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** A new secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString("base64")}`;
}

/**
 * The HMAC key of a Standard Webhooks secret: base64 after the optional `whsec_` prefix, 24 to 64 bytes.
 * @throws ValidationError (on `field`) for anything else.
 */
export function parseWebhookSecret(secret: string, field = "secret"): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new ValidationError("a secret is whsec_ followed by base64", field);
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new ValidationError(
      `a secret must decode to ${MIN_KEY_BYTES}-${MAX_KEY_BYTES} bytes (got ${key.length})`,
      field,
    );
  }
  return key;
}

function toSeconds(timestamp: Date | number): number {
  return typeof timestamp === "number" ? Math.floor(timestamp) : Math.floor(timestamp.getTime() / 1000);
}

function standardSignature(key: Buffer, msgId: string, seconds: number, body: string | Buffer): Buffer {
  return createHmac("sha256", key).update(`${msgId}.${seconds}.`).update(body).digest();
}

export type StandardWebhookHeaders = {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
};

/** The three Standard Webhooks headers; several secrets (a rotation) give several space-separated `v1,` signatures. */
export function signWebhook(options: {
  msgId: string;
  timestamp: Date | number;
  body: string | Buffer;
  secrets: readonly string[];
}): StandardWebhookHeaders {
  const seconds = toSeconds(options.timestamp);
  const signatures = options.secrets.map(
    (secret) =>
      `v1,${standardSignature(parseWebhookSecret(secret), options.msgId, seconds, options.body).toString("base64")}`,
  );
  return {
    "webhook-id": options.msgId,
    "webhook-timestamp": String(seconds),
    "webhook-signature": signatures.join(" "),
  };
}

export type VerifyResult =
  | { ok: true; msgId: string | null; timestamp: Date | null }
  | { ok: false; reason: "missing" | "invalid" | "stale" };

type HeaderValue = string | string[] | undefined;

function header(headers: Readonly<Record<string, HeaderValue>>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Constant-time: true when `presented` equals any of `expected` (lengths differ only by format, which is public). */
export function matchesAnySignature(presented: Buffer, expected: readonly Buffer[]): boolean {
  let matched = false;
  for (const candidate of expected) {
    if (candidate.length === presented.length && timingSafeEqual(candidate, presented)) matched = true;
  }
  return matched;
}

/**
 * Verifies Standard Webhooks headers against the raw body: accepted when any `v1` signature matches any secret and
 * the timestamp is within `toleranceSeconds` of now, either way.
 */
export function verifyStandardWebhook(options: {
  headers: Readonly<Record<string, HeaderValue>>;
  body: string | Buffer;
  secrets: readonly string[];
  toleranceSeconds?: number;
  now?: number;
}): VerifyResult {
  const msgId = header(options.headers, "webhook-id");
  const timestampText = header(options.headers, "webhook-timestamp");
  const signatureText = header(options.headers, "webhook-signature");
  if (!msgId || !timestampText || !signatureText || !/^\d{1,15}$/.test(timestampText))
    return { ok: false, reason: "missing" };
  const seconds = Number(timestampText);
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - seconds) > (options.toleranceSeconds ?? 300)) return { ok: false, reason: "stale" };
  const presented = signatureText
    .split(" ")
    .filter((part) => part.startsWith("v1,"))
    .map((part) => Buffer.from(part.slice(3), "base64"));
  if (presented.length === 0) return { ok: false, reason: "invalid" };
  const expected = options.secrets.map((secret) =>
    standardSignature(parseWebhookSecret(secret), msgId, seconds, options.body),
  );
  const valid = presented.map((signature) => matchesAnySignature(signature, expected)).some(Boolean);
  return valid ? { ok: true, msgId, timestamp: new Date(seconds * 1000) } : { ok: false, reason: "invalid" };
}

/** GitHub's `sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the secret's UTF-8 bytes exactly as given. */
export function signGitHub(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac("sha256", Buffer.from(secret, "utf8")).update(body).digest("hex")}`;
}

/** Verifies an X-Hub-Signature-256 header against the raw body and any of the secrets. */
export function verifyGitHubSignature(options: {
  header: string | undefined;
  body: string | Buffer;
  secrets: readonly string[];
}): VerifyResult {
  const match = options.header ? /^sha256=([0-9a-fA-F]{64})$/.exec(options.header.trim()) : null;
  if (!match?.[1]) return { ok: false, reason: "missing" };
  const presented = Buffer.from(match[1].toLowerCase(), "hex");
  const expected = options.secrets.map((secret) =>
    createHmac("sha256", Buffer.from(secret, "utf8")).update(options.body).digest(),
  );
  return matchesAnySignature(presented, expected)
    ? { ok: true, msgId: null, timestamp: null }
    : { ok: false, reason: "invalid" };
}
