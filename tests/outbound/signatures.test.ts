import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/lib/errors.js";
import {
  generateWebhookSecret,
  parseWebhookSecret,
  signGitHub,
  signWebhook,
  verifyGitHubSignature,
  verifyStandardWebhook,
} from "../../src/lib/webhook-signature.js";

// The Standard Webhooks reference test vector (standard-webhooks libraries' shared tests).
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  msgId: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

describe("Standard Webhooks signatures", () => {
  it("match the specification's test vector", () => {
    const headers = signWebhook({
      msgId: VECTOR.msgId,
      timestamp: VECTOR.timestamp,
      body: VECTOR.body,
      secrets: [VECTOR.secret],
    });
    expect(headers).toEqual({
      "webhook-id": VECTOR.msgId,
      "webhook-timestamp": "1614265330",
      "webhook-signature": VECTOR.signature,
    });
    const verified = verifyStandardWebhook({
      headers,
      body: Buffer.from(VECTOR.body),
      secrets: [VECTOR.secret],
      now: VECTOR.timestamp * 1000,
    });
    expect(verified).toMatchObject({ ok: true, msgId: VECTOR.msgId });
  });

  it("carry one signature per live secret during a rotation, and either secret verifies", () => {
    const [oldSecret, newSecret] = [generateWebhookSecret(), generateWebhookSecret()];
    const now = Date.now();
    const headers = signWebhook({
      msgId: "msg_1",
      timestamp: new Date(now),
      body: "{}",
      secrets: [newSecret, oldSecret],
    });
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) {
      expect(verifyStandardWebhook({ headers, body: "{}", secrets: [secret], now }).ok).toBe(true);
    }
    expect(verifyStandardWebhook({ headers, body: "{}", secrets: [generateWebhookSecret()], now })).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("refuse tampered bodies, stale or future timestamps, missing headers and non-v1 signatures", () => {
    const secret = generateWebhookSecret();
    const now = Date.now();
    const headers = signWebhook({ msgId: "msg_2", timestamp: new Date(now), body: '{"a":1}', secrets: [secret] });
    expect(verifyStandardWebhook({ headers, body: '{"a":2}', secrets: [secret], now }).ok).toBe(false);
    expect(verifyStandardWebhook({ headers, body: '{"a":1}', secrets: [secret], now: now + 301_000 })).toEqual({
      ok: false,
      reason: "stale",
    });
    expect(verifyStandardWebhook({ headers, body: '{"a":1}', secrets: [secret], now: now - 301_000 })).toEqual({
      ok: false,
      reason: "stale",
    });
    expect(verifyStandardWebhook({ headers, body: '{"a":1}', secrets: [secret], now: now + 299_000 }).ok).toBe(true);
    const { "webhook-id": _id, ...withoutId } = headers;
    expect(verifyStandardWebhook({ headers: withoutId, body: '{"a":1}', secrets: [secret], now })).toEqual({
      ok: false,
      reason: "missing",
    });
    const v2 = { ...headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,") };
    expect(verifyStandardWebhook({ headers: v2, body: '{"a":1}', secrets: [secret], now })).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("refuse secrets that are not base64 of 24 to 64 bytes, naming the field", () => {
    expect(() => parseWebhookSecret("whsec_not base64!", "input.secret")).toThrow(ValidationError);
    expect(() => parseWebhookSecret(`whsec_${Buffer.alloc(8).toString("base64")}`)).toThrow(/24-64 bytes \(got 8\)/);
    expect(parseWebhookSecret(generateWebhookSecret())).toHaveLength(32);
  });
});

describe("GitHub X-Hub-Signature-256", () => {
  it("matches GitHub's published test vector", () => {
    const expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    expect(signGitHub("Hello, World!", "It's a Secret to Everybody")).toBe(expected);
    expect(
      verifyGitHubSignature({
        header: expected,
        body: Buffer.from("Hello, World!"),
        secrets: ["It's a Secret to Everybody"],
      }).ok,
    ).toBe(true);
  });

  it("refuses a wrong secret, a tampered body and a malformed header", () => {
    const header = signGitHub("payload", "s3cret");
    expect(verifyGitHubSignature({ header, body: "payload", secrets: ["other"] })).toEqual({
      ok: false,
      reason: "invalid",
    });
    expect(verifyGitHubSignature({ header, body: "payload!", secrets: ["s3cret"] })).toEqual({
      ok: false,
      reason: "invalid",
    });
    expect(verifyGitHubSignature({ header: "sha1=abc", body: "payload", secrets: ["s3cret"] })).toEqual({
      ok: false,
      reason: "missing",
    });
    expect(verifyGitHubSignature({ header: undefined, body: "payload", secrets: ["s3cret"] })).toEqual({
      ok: false,
      reason: "missing",
    });
  });
});
