import { DeliveriesDocument, type DeliveryStatus, RetryDeliveryDocument } from "../../clients/typescript/src/index.js";
import { UsageError } from "./keys.js";
import { expectResult, parseRemote } from "./remote.js";

const STATUSES: readonly DeliveryStatus[] = ["PENDING", "SENDING", "SUCCEEDED", "FAILED", "CANCELLED"];

/** `signalpost deliveries list [--status S] [--endpoint id] [--limit n]` and `signalpost deliveries retry <id>`. */
export async function deliveriesCommand(args: string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  if (subcommand === "list") return list(rest);
  if (subcommand === "retry") return retry(rest);
  throw new UsageError("usage: signalpost deliveries list [--status S] [--endpoint id] | retry <id>");
}

async function list(args: string[]): Promise<void> {
  const { remote, values } = parseRemote(args, {
    status: { type: "string", multiple: true },
    endpoint: { type: "string" },
    limit: { type: "string", default: "50" },
  });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new UsageError("--limit must be 1 to 100");
  const statuses = ((values.status as string[] | undefined) ?? []).map((status) => status.toUpperCase());
  const unknown = statuses.find((status) => !STATUSES.includes(status as DeliveryStatus));
  if (unknown) throw new UsageError(`--status must be one of ${STATUSES.join(", ")} (got ${unknown})`);
  const { deliveries } = await remote.client.request(DeliveriesDocument, {
    first: limit,
    filter: {
      statuses: statuses.length ? (statuses as DeliveryStatus[]) : null,
      endpointId: (values.endpoint as string | undefined) ?? null,
    },
  });
  const connection = expectResult(deliveries, "DeliveryConnection");
  for (const { node } of connection.edges) {
    remote.print(
      [
        node.id,
        node.status.padEnd(9),
        node.eventType,
        node.endpoint.name,
        node.lastStatusCode ?? "-",
        node.createdAt,
      ].join("  "),
      node,
    );
  }
  if (!remote.json) remote.note(`${connection.edges.length} deliver${connection.edges.length === 1 ? "y" : "ies"}`);
}

async function retry(args: string[]): Promise<void> {
  const { remote, positionals } = parseRemote(args, {});
  const [id] = positionals;
  if (!id || positionals.length > 1) throw new UsageError("give exactly one delivery id");
  const { retryDelivery } = await remote.client.request(RetryDeliveryDocument, { id });
  const sent = expectResult(retryDelivery, "SendResult");
  remote.print(
    `Attempt ${sent.attemptNumber} of ${id}: ${sent.statusCode ?? sent.error?.class ?? "no response"} in ${sent.durationMs} ms ` +
      `(now ${sent.delivery.status})`,
    sent,
  );
  if (sent.delivery.status !== "SUCCEEDED") process.exitCode = 1;
}
