import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../clients/typescript/src/verify-webhook.js";
import { generateWebhookSecret } from "../../src/lib/webhook-signature.js";
import { runSignalpost } from "../support/process.js";
import { TestReceiver } from "../support/test-receiver.js";

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  await receiver.close();
});

async function saved(lines: unknown[]): Promise<string> {
  const file = path.join(os.tmpdir(), `replay-${randomBytes(4).toString("hex")}.ndjson`);
  await writeFile(
    file,
    `${lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n")}\n`,
  );
  return file;
}

async function replay(args: string[]) {
  const child = runSignalpost(["replay", ...args], {});
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

describe("signalpost replay", () => {
  it("posts each saved body intact, re-signed with --secret under its original webhook-id", async () => {
    const secret = generateWebhookSecret();
    const exported = { id: "d1", messageId: "msg_exported", body: '{"type":"order.created","data":{"n":1}}' };
    const savedRaw = { body: { n: 2 }, headers: { "x-custom": "kept", host: "elsewhere" } };
    const file = await saved([exported, "", savedRaw]);
    const before = receiver.requests.length;
    const result = await replay([file, "--to", receiver.url, "--secret", secret, "--json", "--concurrency", "1"]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toMatchObject([
      { line: 1, id: "msg_exported", status: 200 },
      { line: 3, status: 200 },
    ]);
    const [first, second] = receiver.requests.slice(before);
    expect(first?.body.toString()).toBe(exported.body);
    expect(verifyWebhook(first?.body ?? "", first?.headers ?? {}, secret).id).toBe("msg_exported");
    expect(second?.body.toString()).toBe('{"n":2}');
    expect(second?.headers["x-custom"]).toBe("kept");
    expect(verifyWebhook(second?.body ?? "", second?.headers ?? {}, secret).payload).toEqual({ n: 2 });
  });

  it("exits 1 when a receiver refuses, 2 for a bad line (naming it) or bad flags", async () => {
    receiver.respondWith({ status: 503 });
    const refused = await replay([await saved([{ body: "{}" }]), "--to", receiver.url]);
    receiver.respondWith({ status: 200 });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("503");

    const badLine = await replay([await saved([{ body: "{}" }, "{oops", { body: "{}" }]), "--to", receiver.url]);
    expect(badLine.code).toBe(2);
    expect(badLine.stderr).toContain("line 2 is not JSON");

    const noBody = await replay([await saved([{ headers: {} }]), "--to", receiver.url]);
    expect(noBody.code).toBe(2);
    expect(noBody.stderr).toContain('line 1 has no "body"');

    const badUrl = await replay([await saved([{ body: "{}" }]), "--to", "ftp://x"]);
    expect(badUrl.code).toBe(2);
    const missing = await replay(["/nonexistent.ndjson", "--to", receiver.url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read");
  });
});
