import {
  DeliveriesDocument,
  DeliveryDocument,
  type DeliveryStatus,
  RetryDeliveryDocument,
} from "../../clients/typescript/src/index.js";
import { endpointId } from "./endpoints.js";
import { expectResult, parseRemote } from "./remote.js";
import { UsageError } from "./usage-error.js";

const STATUSES: readonly DeliveryStatus[] = ["PENDING", "SENDING", "SUCCEEDED", "FAILED", "CANCELLED"];

/** `signalpost deliveries list|show|retry` (usage in ./catalog.ts). */
export async function deliveriesCommand(args: string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  if (subcommand === "list") return list(rest);
  if (subcommand === "show") return show(rest);
  if (subcommand === "retry") return retry(rest);
  throw new UsageError("usage: signalpost deliveries list|show|retry (see: signalpost deliveries --help)");
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
  const endpoint = values.endpoint as string | undefined;
  const { deliveries } = await remote.client.request(DeliveriesDocument, {
    first: limit,
    filter: {
      statuses: statuses.length ? (statuses as DeliveryStatus[]) : null,
      endpointId: endpoint ? await endpointId(remote.client, endpoint) : null,
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

async function show(args: string[]): Promise<void> {
  const { remote, positionals } = parseRemote(args, {});
  const [id] = positionals;
  if (!id || positionals.length > 1) throw new UsageError("give exactly one delivery id");
  const { delivery: result } = await remote.client.request(DeliveryDocument, { id });
  const delivery = expectResult(result, "Delivery");
  if (remote.json) return remote.print("", delivery);
  const lines = [
    `Delivery ${delivery.id}  ${delivery.status}`,
    `  event       ${delivery.eventType}  (${delivery.messageId})`,
    `  endpoint    ${delivery.endpoint.name}  (${delivery.endpoint.id})`,
    `  created     ${delivery.createdAt}`,
    `  attempts    ${delivery.attemptCount}${delivery.nextAttemptAt ? `, next at ${delivery.nextAttemptAt}` : ""}`,
  ];
  if (delivery.failureReason) lines.push(`  failure     ${delivery.failureReason}`);
  for (const attempt of delivery.attempts) {
    const outcome =
      attempt.statusCode ??
      `${attempt.errorClass ?? "error"}${attempt.errorMessage ? `: ${attempt.errorMessage}` : ""}`;
    lines.push(
      `  #${attempt.number}  ${attempt.createdAt}  ${attempt.trigger}  ${outcome}  ${attempt.durationMs ?? "-"} ms`,
    );
  }
  remote.print(lines.join("\n"), delivery);
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
