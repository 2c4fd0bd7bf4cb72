import {
  CreateEndpointDocument,
  type EndpointFieldsFragment,
  EndpointsDocument,
  RecoverEndpointDocument,
  SendTestEventDocument,
} from "../../clients/typescript/src/index.js";
import { allPages, expectResult, idFromNameOrId, parseRemote, type Remote } from "./remote.js";
import { UsageError } from "./usage-error.js";

/** `signalpost endpoints list|create|test|recover` (usage in ./catalog.ts). */
export async function endpointsCommand(args: string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  if (subcommand === "list") return list(rest);
  if (subcommand === "create") return create(rest);
  if (subcommand === "test") return test(rest);
  if (subcommand === "recover") return recover(rest);
  throw new UsageError("usage: signalpost endpoints list|create|test|recover (see: signalpost endpoints --help)");
}

/** Every endpoint of the tenant. */
export function allEndpoints(client: Remote["client"]): Promise<EndpointFieldsFragment[]> {
  return allPages(async (after) => (await client.request(EndpointsDocument, { first: 100, after })).endpoints);
}

/** An endpoint id from an id or a name (`--endpoint shop`). */
export function endpointId(client: Remote["client"], value: string): Promise<string> {
  return idFromNameOrId("endpoint", value, () => allEndpoints(client));
}

async function list(args: string[]): Promise<void> {
  const { remote, positionals } = parseRemote(args, {});
  if (positionals.length) throw new UsageError("endpoints list takes no arguments");
  const endpoints = await allEndpoints(remote.client);
  for (const endpoint of endpoints) {
    const state = endpoint.enabled
      ? "enabled"
      : `disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ""}`;
    remote.print(
      [
        endpoint.id,
        endpoint.name,
        state,
        endpoint.url,
        endpoint.eventTypes.length ? endpoint.eventTypes.join(",") : "*",
      ].join("  "),
      endpoint,
    );
  }
  if (!remote.json) remote.note(`${endpoints.length} endpoint${endpoints.length === 1 ? "" : "s"}`);
}

async function create(args: string[]): Promise<void> {
  const { remote, values, positionals } = parseRemote(args, {
    events: { type: "string" },
    description: { type: "string" },
  });
  // Name and URL are positional: --url already names the server.
  const [name, url] = positionals;
  if (!name || !url || positionals.length > 2)
    throw new UsageError("give a name and a URL: signalpost endpoints create <name> <url> [--events a,b]");
  const eventTypes = ((values.events as string | undefined) ?? "")
    .split(",")
    .map((type) => type.trim())
    .filter(Boolean);
  const { createEndpoint } = await remote.client.request(CreateEndpointDocument, {
    input: {
      name,
      url,
      eventTypes: eventTypes.length ? eventTypes : null,
      description: (values.description as string | undefined) ?? null,
    },
  });
  const created = expectResult(createEndpoint, "CreatedEndpoint");
  remote.print(
    `Created endpoint ${created.endpoint.id} "${created.endpoint.name}" -> ${created.endpoint.url} ` +
      `(${eventTypes.length ? eventTypes.join(", ") : "all event types"}). Signing secret, shown once:\n\n  ${created.secret}\n`,
    { id: created.endpoint.id, name: created.endpoint.name, url: created.endpoint.url, secret: created.secret },
  );
  for (const warning of created.endpoint.warnings ?? []) remote.note(`warning: ${warning}`);
}

async function test(args: string[]): Promise<void> {
  const { remote, positionals } = parseRemote(args, {});
  const [given] = positionals;
  if (!given || positionals.length > 1) throw new UsageError("give exactly one endpoint id or name");
  const id = await endpointId(remote.client, given);
  const { sendTestEvent } = await remote.client.request(SendTestEventDocument, { endpointId: id });
  const sent = expectResult(sendTestEvent, "SendResult");
  const ok =
    sent.statusCode !== null && sent.statusCode !== undefined && sent.statusCode >= 200 && sent.statusCode < 300;
  remote.print(
    `Test event to ${sent.delivery.endpoint.name}: ${sent.statusCode ?? sent.error?.class ?? "no response"} in ${sent.durationMs} ms` +
      (sent.error?.message ? ` (${sent.error.message})` : ""),
    sent,
  );
  if (!ok) process.exitCode = 1;
}

/**
 * `endpoints recover --since <time> [--until <time>] [--endpoint id|name] [--dry-run]`: sends again the failed
 * deliveries of one endpoint, or of every endpoint, in the window, showing progress per endpoint.
 */
async function recover(args: string[]): Promise<void> {
  const { remote, values } = parseRemote(args, {
    since: { type: "string" },
    until: { type: "string" },
    endpoint: { type: "string" },
    "dry-run": { type: "boolean", default: false },
  });
  const since = parseTime(values.since as string | undefined, "--since");
  if (!since) throw new UsageError("--since is required (an ISO time such as 2026-11-22T10:00:00Z, or 2h / 3d ago)");
  const until = parseTime(values.until as string | undefined, "--until");
  const dryRun = values["dry-run"] === true;
  const endpointIds = values.endpoint
    ? [await endpointId(remote.client, values.endpoint as string)]
    : (await allEndpoints(remote.client)).map((endpoint) => endpoint.id);
  let total = 0;
  for (const [index, endpointId] of endpointIds.entries()) {
    const { recoverEndpoint } = await remote.client.request(RecoverEndpointDocument, {
      endpointId,
      since: since.toISOString(),
      until: until?.toISOString() ?? null,
      dryRun,
    });
    const recovered = expectResult(recoverEndpoint, "RecoverResult");
    total += recovered.count;
    if (!remote.json) remote.note(`[${index + 1}/${endpointIds.length}] ${endpointId}: ${recovered.count}`);
    else remote.print("", { endpointId, count: recovered.count, dryRun });
  }
  if (!remote.json)
    remote.print(
      `${dryRun ? "Would send again" : "Sending again"} ${total} failed deliver${total === 1 ? "y" : "ies"}`,
      {},
    );
}

/** An ISO time, or a relative one (`90m`, `2h`, `3d`: that long ago). */
function parseTime(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const relative = /^(\d+)([mhd])$/.exec(value);
  if (relative) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as "m" | "h" | "d"];
    return new Date(Date.now() - Number(relative[1]) * unit);
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new UsageError(`${flag} is not a time: "${value}"`);
  return date;
}
