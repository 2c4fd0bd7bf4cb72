import { EndpointsDocument, type EndpointsQuery, RecoverEndpointDocument } from "../../clients/typescript/src/index.js";
import { UsageError } from "./keys.js";
import { expectResult, parseRemote } from "./remote.js";

/**
 * `signalpost endpoints recover --since <time> [--until <time>] [--endpoint id] [--dry-run]`: sends again the failed
 * deliveries of one endpoint, or of every endpoint, in the window, showing progress per endpoint.
 */
export async function endpointsCommand(args: string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  if (subcommand !== "recover")
    throw new UsageError(
      "usage: signalpost endpoints recover --since <time> [--until <time>] [--endpoint id] [--dry-run]",
    );
  const { remote, values } = parseRemote(rest, {
    since: { type: "string" },
    until: { type: "string" },
    endpoint: { type: "string" },
    "dry-run": { type: "boolean", default: false },
  });
  const since = parseTime(values.since as string | undefined, "--since");
  if (!since) throw new UsageError("--since is required (an ISO time such as 2026-11-22T10:00:00Z, or 2h / 3d ago)");
  const until = parseTime(values.until as string | undefined, "--until");
  const dryRun = values["dry-run"] === true;
  const endpointIds = values.endpoint ? [values.endpoint as string] : await allEndpointIds(remote.client);
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

async function allEndpointIds(client: ReturnType<typeof parseRemote>["remote"]["client"]): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page: EndpointsQuery = await client.request(EndpointsDocument, { first: 100, after });
    const { endpoints } = page;
    ids.push(...endpoints.edges.map((edge) => edge.node.id));
    if (!endpoints.pageInfo.hasNextPage) return ids;
    after = endpoints.pageInfo.endCursor ?? null;
  }
}
