import { readFile } from "node:fs/promises";
import { PublishEventDocument } from "../../clients/typescript/src/index.js";
import { expectResult, parseRemote } from "./remote.js";
import { UsageError } from "./usage-error.js";

/** `--data '{"a":1}'` or `--data @payload.json`: the payload as JSON. @throws UsageError naming the problem. */
async function readData(value: string | undefined): Promise<unknown> {
  if (value === undefined) throw new UsageError("--data is required (JSON, or @file with JSON in it)");
  let text = value;
  if (value.startsWith("@")) {
    text = await readFile(value.slice(1), "utf8").catch(() => {
      throw new UsageError(`cannot read ${value.slice(1)}`);
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--data is not valid JSON: ${(error as Error).message}`);
  }
}

/** `signalpost events publish <type> --data <json|@file> [--idempotency-key k]`. */
export async function eventsCommand(args: string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  if (subcommand !== "publish") throw new UsageError("usage: signalpost events publish <type> --data <json|@file>");
  const { remote, values, positionals } = parseRemote(rest, {
    data: { type: "string" },
    "idempotency-key": { type: "string" },
  });
  const [eventType] = positionals;
  if (!eventType || positionals.length > 1) throw new UsageError("give exactly one event type");
  const payload = await readData(values.data as string | undefined);
  const { publishEvent } = await remote.client.request(PublishEventDocument, {
    input: { eventType, payload, idempotencyKey: (values["idempotency-key"] as string | undefined) ?? null },
  });
  const published = expectResult(publishEvent, "PublishedEvent");
  remote.print(
    `${published.duplicate ? "Already published" : "Published"} ${published.event.id} (${eventType}): ` +
      `${published.deliveryCount} deliver${published.deliveryCount === 1 ? "y" : "ies"}`,
    {
      eventId: published.event.id,
      messageId: published.event.messageId,
      deliveryCount: published.deliveryCount,
      duplicate: published.duplicate,
    },
  );
}
