import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Checks a webhook you received: Standard Webhooks (what Signalpost sends: webhook-id, webhook-timestamp and
 * webhook-signature) or GitHub's X-Hub-Signature-256. Node only (node:crypto); it depends on nothing else, so a
 * receiver can copy this one file.
 */

export type WebhookVerificationCode =
  | "missing_headers"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_in_future"
  | "invalid_signature"
  | "invalid_secret"
  | "invalid_json";

/** Why a webhook was refused. The message never contains an expected signature. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly code: WebhookVerificationCode,
    message: string,
  ) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

export interface VerifiedWebhook<Payload = unknown> {
  scheme: "standard-webhooks" | "github";
  /** The webhook-id (Standard Webhooks) or X-GitHub-Delivery, when sent: use it to drop duplicates. */
  id: string | null;
  /** When it was signed (Standard Webhooks only). */
  timestamp: Date | null;
  payload: Payload;
}

export interface VerifyOptions {
  /** How far the signing time may be from now, either way. Default 300 s. */
  toleranceSeconds?: number;
  now?: Date;
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(", ") : value;
  }
  return undefined;
}

/** Constant-time equality that does not throw on different lengths. */
function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The HMAC key of a `whsec_<base64>` secret; a truncated paste fails here, not as a confusing signature mismatch. */
function standardKey(secret: string): Buffer {
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded))
    throw new WebhookVerificationError("invalid_secret", "a Standard Webhooks secret is whsec_ followed by base64");
  const key = Buffer.from(encoded, "base64");
  if (key.length < 24 || key.length > 64)
    throw new WebhookVerificationError("invalid_secret", "a Standard Webhooks secret decodes to 24-64 bytes");
  return key;
}

function parseJson<Payload>(body: Buffer): Payload {
  try {
    return JSON.parse(body.toString("utf8")) as Payload;
  } catch {
    throw new WebhookVerificationError("invalid_json", "the body is not JSON");
  }
}

/**
 * Verifies a webhook against one secret or several (during a rotation any of them may match) and returns its parsed
 * payload. Pass the body exactly as received (a string or bytes: not re-serialised JSON).
 * @throws WebhookVerificationError with a code saying what was wrong.
 */
export function verifyWebhook<Payload = unknown>(
  rawBody: string | Uint8Array,
  headers: HeaderBag,
  secrets: string | readonly string[],
  options: VerifyOptions = {},
): VerifiedWebhook<Payload> {
  const body = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : Buffer.from(rawBody);
  const keys = typeof secrets === "string" ? [secrets] : secrets;
  if (keys.length === 0) throw new WebhookVerificationError("invalid_secret", "no secret given");

  const github = header(headers, "x-hub-signature-256");
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signature = header(headers, "webhook-signature");

  if (!(id && timestamp && signature) && github) {
    const match = /^sha256=([0-9a-f]{64})$/i.exec(github.trim());
    const given = match ? Buffer.from(match[1] as string, "hex") : Buffer.alloc(0);
    const valid = keys.some((key) => same(createHmac("sha256", key).update(body).digest(), given));
    if (!valid) throw new WebhookVerificationError("invalid_signature", "X-Hub-Signature-256 does not match");
    return {
      scheme: "github",
      id: header(headers, "x-github-delivery") ?? null,
      timestamp: null,
      payload: parseJson(body),
    };
  }
  if (!(id && timestamp && signature))
    throw new WebhookVerificationError(
      "missing_headers",
      "expected webhook-id, webhook-timestamp and webhook-signature (or X-Hub-Signature-256)",
    );

  if (!/^\d{1,12}$/.test(timestamp))
    throw new WebhookVerificationError("invalid_timestamp", "webhook-timestamp is not Unix seconds");
  const seconds = Number(timestamp);
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (seconds < nowSeconds - tolerance)
    throw new WebhookVerificationError("timestamp_too_old", `signed more than ${tolerance} s ago`);
  if (seconds > nowSeconds + tolerance)
    throw new WebhookVerificationError("timestamp_in_future", `signed more than ${tolerance} s in the future`);

  const given = signature
    .split(" ")
    .filter((part) => part.startsWith("v1,"))
    .map((part) => Buffer.from(part.slice(3), "base64"));
  const valid = keys.some((secret) => {
    const expected = createHmac("sha256", standardKey(secret)).update(`${id}.${timestamp}.`).update(body).digest();
    return given.some((candidate) => same(expected, candidate));
  });
  if (!valid) throw new WebhookVerificationError("invalid_signature", "no webhook-signature matches the secret");
  return { scheme: "standard-webhooks", id, timestamp: new Date(seconds * 1000), payload: parseJson(body) };
}
