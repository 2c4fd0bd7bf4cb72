import { readFile } from "node:fs/promises";
import {
  CreateEventTypeDocument,
  type EventTypeFieldsFragment,
  EventTypesDocument,
} from "../../clients/typescript/src/index.js";
import { closest } from "./catalog.js";
import { allPages, expectResult, parseRemote, type Remote } from "./remote.js";
import { UsageError } from "./usage-error.js";

/** Every event type of the tenant (archived ones too with `includeArchived`). */
export function allEventTypes(client: Remote["client"], includeArchived = false): Promise<EventTypeFieldsFragment[]> {
  return allPages(
    async (after) => (await client.request(EventTypesDocument, { first: 100, after, includeArchived })).eventTypes,
  );
}

/** The event type named `name`. @throws Error (exit 1) naming the types there are, with a guess for a typo. */
export async function eventTypeNamed(client: Remote["client"], name: string): Promise<EventTypeFieldsFragment> {
  const types = await allEventTypes(client);
  const found = types.find((type) => type.name === name);
  if (found) return found;
  const names = types.map((type) => type.name);
  const guess = closest(name, names);
  throw new Error(
    `no event type "${name}"${guess ? `; did you mean '${guess}'?` : names.length ? `; event types: ${names.slice(0, 20).join(", ")}` : "; create one with: signalpost event-types create <name>"}`,
  );
}

/** `--schema '{...}'` or `--schema @file.json`. */
async function readJson(value: string, flag: string): Promise<unknown> {
  const text = value.startsWith("@")
    ? await readFile(value.slice(1), "utf8").catch(() => {
        throw new UsageError(`cannot read ${value.slice(1)}`);
      })
    : value;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}`);
  }
}

/** `signalpost event-types list|create` (usage in ./catalog.ts). */
export async function eventTypesCommand(args: string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  if (subcommand === "list") {
    const { remote, values, positionals } = parseRemote(rest, { all: { type: "boolean", default: false } });
    if (positionals.length) throw new UsageError("event-types list takes no arguments");
    const types = await allEventTypes(remote.client, values.all === true);
    for (const type of types)
      remote.print(
        [
          type.id,
          type.name,
          type.archived ? "archived" : "active",
          type.schema ? "schema" : "no schema",
          type.description ?? "",
        ]
          .join("  ")
          .trimEnd(),
        type,
      );
    if (!remote.json) remote.note(`${types.length} event type${types.length === 1 ? "" : "s"}`);
    return;
  }
  if (subcommand === "create") {
    const { remote, values, positionals } = parseRemote(rest, {
      description: { type: "string" },
      schema: { type: "string" },
    });
    const [name] = positionals;
    if (!name || positionals.length > 1) throw new UsageError("give exactly one event type name");
    const schema = values.schema === undefined ? null : await readJson(values.schema as string, "--schema");
    const { createEventType } = await remote.client.request(CreateEventTypeDocument, {
      input: { name, description: (values.description as string | undefined) ?? null, schema },
    });
    const created = expectResult(createEventType, "EventType");
    remote.print(`Created event type ${created.name} (${created.id})`, created);
    return;
  }
  throw new UsageError("usage: signalpost event-types list|create (see: signalpost event-types --help)");
}
