// What a recorded attempt does to its endpoint. Shared by the delivery worker (after each batch) and the manual retry
// in deliveries.service; kept out of the dispatcher so that services do not import the worker.
import { prisma } from "../../db/prisma.js";
import type { Logger } from "../../logger.js";
import { disableEndpoint } from "../endpoints/endpoints.service.js";
import type { AttemptRecord } from "./delivery-store.js";

/** The actor audit entries name when an endpoint is disabled by its own failures. */
const SYSTEM = { actor: { type: "system" as const, id: null, name: "delivery worker" } };

/**
 * 410 Gone disables its endpoint at once; an endpoint failing without a break for the auto-disable window is disabled
 * too (`autoDisableAfterMs`, an outbound rule), with the reason recorded. Disabling fails the endpoint's waiting
 * deliveries (recoverable later).
 */
export async function applyEndpointConsequences(
  batch: readonly AttemptRecord[],
  autoDisableAfterMs: number,
  logger: Logger,
): Promise<void> {
  const toDisable = new Map<string, { tenantId: string; reason: string }>();
  for (const record of batch) {
    if (record.outcome.kind === "failed" && record.outcome.disableEndpoint) {
      toDisable.set(record.work.endpoint.id, {
        tenantId: record.work.tenantId,
        reason: record.outcome.disableEndpoint,
      });
    }
  }
  const failing = [
    ...new Set(batch.filter((record) => record.outcome.kind !== "succeeded").map((record) => record.work.endpoint.id)),
  ];
  if (failing.length) {
    const windowMs = autoDisableAfterMs;
    const stale = await prisma.endpoint.findMany({
      where: { id: { in: failing }, enabled: true, failingSince: { lte: new Date(Date.now() - windowMs) } },
      select: { id: true, tenantId: true, failingSince: true },
    });
    for (const endpoint of stale) {
      const hours = Math.round((windowMs / 3_600_000) * 10) / 10;
      toDisable.set(endpoint.id, {
        tenantId: endpoint.tenantId,
        reason: `failing continuously since ${endpoint.failingSince?.toISOString()} (auto-disable after ${hours} h)`,
      });
    }
  }
  for (const [id, { tenantId, reason }] of toDisable) {
    await disableEndpoint(tenantId, id, reason, SYSTEM);
    logger.warn({ endpointId: id, reason }, "endpoint disabled");
  }
}
