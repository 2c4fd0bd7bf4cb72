import { PublishEventDocument } from "../../clients/typescript/src/index.js";
import { exampleFromSchema } from "../lib/schema-example.js";
import { eventTypeNamed } from "./event-types.js";
import { expectResult, parseRemote } from "./remote.js";
import { UsageError } from "./usage-error.js";

/**
 * `signalpost trigger <event-type>`: publishes an example event of a type, its payload made from the type's JSON
 * Schema (see exampleFromSchema), like `stripe trigger`. The payload is printed so it can be edited and published
 * with `events publish` when a different one is wanted.
 */
export async function triggerCommand(args: string[]): Promise<void> {
  const { remote, values, positionals } = parseRemote(args, { "idempotency-key": { type: "string" } });
  const [name] = positionals;
  if (!name || positionals.length > 1)
    throw new UsageError("give exactly one event type (see: signalpost event-types list)");
  const type = await eventTypeNamed(remote.client, name);
  const payload = exampleFromSchema(type.schema);
  const { publishEvent } = await remote.client.request(PublishEventDocument, {
    input: { eventType: name, payload, idempotencyKey: (values["idempotency-key"] as string | undefined) ?? null },
  });
  const published = expectResult(publishEvent, "PublishedEvent");
  remote.print(
    `Published ${published.event.id} (${name}): ${published.deliveryCount} deliver${published.deliveryCount === 1 ? "y" : "ies"}\n` +
      `  payload ${JSON.stringify(payload)}`,
    {
      eventId: published.event.id,
      messageId: published.event.messageId,
      deliveryCount: published.deliveryCount,
      payload,
    },
  );
}
