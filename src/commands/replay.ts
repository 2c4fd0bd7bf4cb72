import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { signWebhook } from "../lib/webhook-signature.js";
import { endToEndHeaders, repost } from "./repost.js";
import { UsageError } from "./usage-error.js";

/** One webhook to post again: its body exactly, the headers it came with, and its message id if known. */
interface SavedWebhook {
  line: number;
  body: string;
  headers: Record<string, string>;
  id: string | null;
}

/**
 * Reads an NDJSON file of saved webhooks: lines of `exportDeliveries(format: NDJSON)` (which carry `body` and
 * `messageId`) or `{ "body": <string or JSON>, "headers": {...} }`. @throws UsageError naming the bad line.
 */
export function parseSavedWebhooks(text: string): SavedWebhook[] {
  const webhooks: SavedWebhook[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    let parsed: { body?: unknown; headers?: unknown; messageId?: unknown };
    try {
      parsed = JSON.parse(raw) as typeof parsed;
    } catch {
      throw new UsageError(`line ${line} is not JSON`);
    }
    if (parsed === null || typeof parsed !== "object" || parsed.body === undefined)
      throw new UsageError(`line ${line} has no "body" (export with format NDJSON, or save { body, headers })`);
    const headers =
      parsed.headers && typeof parsed.headers === "object"
        ? Object.fromEntries(Object.entries(parsed.headers as Record<string, unknown>).map(([k, v]) => [k, String(v)]))
        : {};
    const id =
      typeof parsed.messageId === "string"
        ? parsed.messageId
        : (headers["webhook-id"] ?? headers["Webhook-Id"] ?? null);
    webhooks.push({
      line,
      body: typeof parsed.body === "string" ? parsed.body : JSON.stringify(parsed.body),
      headers,
      id,
    });
  });
  return webhooks;
}

/**
 * `signalpost replay <file.ndjson> --to <url> [--secret whsec_...] [--concurrency n] [--dry-run] [--json]`: posts
 * saved or exported webhooks again. With --secret each is signed afresh (Standard Webhooks, its original
 * webhook-id kept so receivers can still drop duplicates); without, the saved headers go as they were.
 * Exit 0 when every post got a 2xx, 1 otherwise.
 */
export async function replayCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      to: { type: "string" },
      secret: { type: "string" },
      concurrency: { type: "string", default: "4" },
      "dry-run": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError("usage: signalpost replay <file.ndjson> --to <url>");
  const to = values.to;
  if (!to || !/^https?:\/\//.test(to) || !URL.canParse(to)) throw new UsageError("--to must be an http(s) URL");
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new UsageError("--concurrency must be 1 to 64");
  const text = await readFile(file, "utf8").catch(() => {
    throw new UsageError(`cannot read ${file}`);
  });
  const webhooks = parseSavedWebhooks(text);
  if (values.secret) signWebhook({ msgId: "msg_check", timestamp: new Date(), body: "", secrets: [values.secret] });

  let failed = 0;
  let done = 0;
  const queue = [...webhooks];
  const post = async (webhook: SavedWebhook) => {
    const headers: Record<string, string> = { "content-type": "application/json", ...endToEndHeaders(webhook.headers) };
    if (values.secret) {
      const id = webhook.id ?? `msg_${randomBytes(12).toString("hex")}`;
      Object.assign(
        headers,
        signWebhook({ msgId: id, timestamp: new Date(), body: webhook.body, secrets: [values.secret] }),
      );
    }
    const {
      status,
      error,
      durationMs: ms,
    } = values["dry-run"] ? { status: null, error: null, durationMs: 0 } : await repost(to, headers, webhook.body);
    const ok = values["dry-run"] || (status !== null && status >= 200 && status < 300);
    if (!ok) failed += 1;
    done += 1;
    const shown = values["dry-run"] ? "dry-run" : (status ?? `error: ${error}`);
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ line: webhook.line, id: headers["webhook-id"] ?? webhook.id, status, error, durationMs: ms })}\n`
        : `${webhook.line}  ${shown}  ${ms} ms  ${headers["webhook-id"] ?? webhook.id ?? ""}\n`,
    );
    if (!values.json && process.stderr.isTTY) process.stderr.write(`\r${done}/${webhooks.length}`);
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, webhooks.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await post(next);
    }),
  );
  if (!values.json) process.stderr.write(`${process.stderr.isTTY ? "\n" : ""}${done - failed}/${done} delivered\n`);
  if (failed > 0) process.exitCode = 1;
}
