import { describe, expect, it } from "vitest";
import { verifyWebhook, WebhookVerificationError } from "../../clients/typescript/src/verify-webhook.js";
import { generateWebhookSecret, signGitHub, signWebhook } from "../../src/lib/webhook-signature.js";

const body = '{"type":"order.created","data":{"orderId":42}}';
const now = new Date("2026-11-22T12:00:00Z");

/** Headers as Signalpost's own signer makes them (the server side of the same spec). */
function signed(secrets: string[], at = now, msgId = "msg_abc") {
  return signWebhook({ msgId, timestamp: at, body, secrets });
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return (error as WebhookVerificationError).code;
  }
  throw new Error("verified, but should have been refused");
}

describe("verifyWebhook", () => {
  it("accepts what Signalpost signs, from a plain object or a Headers, whatever the header case", () => {
    const secret = generateWebhookSecret();
    const headers = signed([secret]);
    const verified = verifyWebhook(body, headers, secret, { now });
    expect(verified).toEqual({
      scheme: "standard-webhooks",
      id: "msg_abc",
      timestamp: now,
      payload: { type: "order.created", data: { orderId: 42 } },
    });
    const mixedCase = {
      "Webhook-Id": headers["webhook-id"],
      "WEBHOOK-TIMESTAMP": headers["webhook-timestamp"],
      "webhook-Signature": headers["webhook-signature"],
    };
    expect(verifyWebhook(Buffer.from(body), mixedCase, [secret], { now }).id).toBe("msg_abc");
    expect(verifyWebhook(body, new Headers(headers), secret, { now }).id).toBe("msg_abc");
  });

  it("accepts either secret during a rotation (two signatures in the header, or two secrets held)", () => {
    const [old, current] = [generateWebhookSecret(), generateWebhookSecret()];
    const headers = signed([old, current]);
    expect(verifyWebhook(body, headers, current, { now }).scheme).toBe("standard-webhooks");
    expect(verifyWebhook(body, signed([old]), [current, old], { now }).scheme).toBe("standard-webhooks");
  });

  it("refuses each kind of bad webhook with its code and never shows the expected signature", () => {
    const secret = generateWebhookSecret();
    const headers = signed([secret]);
    expect(refusal(() => verifyWebhook(`${body} `, headers, secret, { now }))).toBe("invalid_signature");
    expect(refusal(() => verifyWebhook(body, headers, generateWebhookSecret(), { now }))).toBe("invalid_signature");
    expect(refusal(() => verifyWebhook(body, { "webhook-id": "x" }, secret, { now }))).toBe("missing_headers");
    expect(refusal(() => verifyWebhook(body, { ...headers, "webhook-timestamp": "soon" }, secret, { now }))).toBe(
      "invalid_timestamp",
    );
    // The tolerance is inclusive: exactly 300 s either way still verifies, one more second does not.
    expect(verifyWebhook(body, headers, secret, { now: new Date(now.getTime() + 300_000) }).id).toBe("msg_abc");
    expect(verifyWebhook(body, headers, secret, { now: new Date(now.getTime() - 300_000) }).id).toBe("msg_abc");
    expect(
      verifyWebhook(body, headers, secret, { now: new Date(now.getTime() + 400_000), toleranceSeconds: 600 }).id,
    ).toBe("msg_abc");
    const late = new Date(now.getTime() + 301_000);
    expect(refusal(() => verifyWebhook(body, headers, secret, { now: late }))).toBe("timestamp_too_old");
    const early = new Date(now.getTime() - 301_000);
    expect(refusal(() => verifyWebhook(body, headers, secret, { now: early }))).toBe("timestamp_in_future");
    expect(refusal(() => verifyWebhook(body, headers, "whsec_not base64!", { now }))).toBe("invalid_secret");
    expect(refusal(() => verifyWebhook(body, headers, "whsec_c2hvcnQ=", { now }))).toBe("invalid_secret");
    expect(refusal(() => verifyWebhook(body, headers, [], { now }))).toBe("invalid_secret");
    const notJson = "plain text";
    const textHeaders = signWebhook({ msgId: "msg_t", timestamp: now, body: notJson, secrets: [secret] });
    expect(refusal(() => verifyWebhook(notJson, textHeaders, secret, { now }))).toBe("invalid_json");

    // What the receiver would have needed for the tampered body must not leak through the error.
    const tampered = `${body} `;
    const expected = signWebhook({ msgId: "msg_abc", timestamp: now, body: tampered, secrets: [secret] });
    const message = (() => {
      try {
        verifyWebhook(tampered, headers, secret, { now });
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error("verified a tampered body");
    })();
    expect(message).not.toContain(expected["webhook-signature"].slice(3));
  });

  it("verifies GitHub's X-Hub-Signature-256 with the raw secret", () => {
    const secret = "a github secret";
    const headers = { "X-Hub-Signature-256": signGitHub(body, secret), "X-GitHub-Delivery": "d-1" };
    expect(verifyWebhook(body, headers, secret)).toMatchObject({ scheme: "github", id: "d-1", timestamp: null });
    expect(refusal(() => verifyWebhook(body, headers, "another secret"))).toBe("invalid_signature");
    expect(refusal(() => verifyWebhook(body, { "x-hub-signature-256": "sha256=zz" }, secret))).toBe(
      "invalid_signature",
    );
  });
});
