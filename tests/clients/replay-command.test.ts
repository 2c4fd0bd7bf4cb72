import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../clients/typescript/src/verify-webhook.js";
import { generateWebhookSecret, signWebhook } from "../../src/lib/webhook-signature.js";
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
    expect(second?.headers.host).toBe(new URL(receiver.url).host);
    // A saved line without a webhook-id gets a fresh msg_ id, reported in the output and sent to the receiver.
    const generated = verifyWebhook(second?.body ?? "", second?.headers ?? {}, secret);
    expect(generated.payload).toEqual({ n: 2 });
    expect(generated.id).toMatch(/^msg_[0-9a-f]+$/);
    expect(lines[1].id).toBe(generated.id);
  });

  it("without --secret sends the saved headers as they were, minus the original hop's", async () => {
    const secret = generateWebhookSecret();
    const body = '{"type":"ping"}';
    const signature = signWebhook({ msgId: "msg_saved", timestamp: new Date(), body, secrets: [secret] });
    const hopByHop = { Host: "elsewhere", Connection: "close", "Content-Length": "999", Expect: "100-continue" };
    const file = await saved([{ body, headers: { ...signature, ...hopByHop, "X-Custom": "kept" } }]);
    const before = receiver.requests.length;
    const result = await replay([file, "--to", receiver.url]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^1\s+200\s+\d+ ms\s+msg_saved$/m);
    const [received] = receiver.requests.slice(before);
    expect(received?.headers).toMatchObject({
      ...signature,
      host: new URL(receiver.url).host,
      "content-length": String(body.length),
      "content-type": "application/json",
      "x-custom": "kept",
    });
    expect(received?.headers.expect).toBeUndefined();
    expect(verifyWebhook(received?.body ?? "", received?.headers ?? {}, secret).id).toBe("msg_saved");
  });

  it("with --dry-run posts nothing", async () => {
    const before = receiver.requests.length;
    const result = await replay([await saved([{ body: "{}" }, { body: "{}" }]), "--to", receiver.url, "--dry-run"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n")).toHaveLength(2);
    expect(receiver.requests.length).toBe(before);
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
