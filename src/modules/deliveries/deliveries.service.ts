import { DELIVERIES_CHANNEL } from "../../db/listen.js";
import { wakeSoon } from "../../db/notify.js";
import { prisma } from "../../db/prisma.js";
import { rateLimit } from "../../db/rate-limit.js";
import type { Delivery, Endpoint, Prisma } from "../../generated/prisma/client.js";
import { ConflictError, findOrNotFound, RateLimitedError, ValidationError } from "../../lib/errors.js";
import type { OutboundClient, OutboundResult } from "../../lib/http-client.js";
import { logger } from "../../logger.js";
import { recordAudit } from "../audit/audit.service.js";
import { findEndpoint } from "../endpoints/endpoints.service.js";
import type { OutboundRules } from "../endpoints/outbound-rules.js";
import type { RequestOrigin } from "../identity/viewer.js";
import { decideOutcome, type Outcome } from "./delivery-outcome.js";
import { type EndpointCredentialCache, sendWebhook } from "./delivery-sender.js";
import { claimDelivery, type DeliveryWork, recordAttempts } from "./delivery-store.js";
import { applyEndpointConsequences } from "./endpoint-consequences.js";

/** The answer of a synchronous send (test or manual retry). */
export interface SendReport {
  delivery: Delivery;
  attemptNumber: number;
  result: OutboundResult;
}

const TEST_EVENT_TYPE = "signalpost.test";
const TESTS_PER_MINUTE = 5;

/** Finds one of the tenant's deliveries. @throws NotFoundError for a missing, malformed or foreign id alike. */
export async function findDelivery(
  tenantId: string,
  id: string,
  query: { include?: Prisma.DeliveryInclude; select?: Prisma.DeliverySelect } = {},
): Promise<Delivery> {
  return findOrNotFound("delivery", id, () => prisma.delivery.findFirst({ ...query, where: { id, tenantId } }));
}

/** What a send made now (a test or a manual retry) needs of the app context. */
export interface Sending {
  /** The outbound client, asked for only once there is something to send. */
  client(): OutboundClient;
  /** Endpoints' decrypted secrets and header values. */
  credentials: EndpointCredentialCache;
  /** The instance's outbound rules (the auto-disable window). */
  outboundRules: OutboundRules;
}

/** Sends a claimed delivery now and records the attempt with its trigger; `decide` maps the result to an outcome. */
async function sendNow(
  sending: Sending,
  work: DeliveryWork,
  trigger: "MANUAL" | "TEST",
  decide: (result: OutboundResult) => Outcome,
): Promise<SendReport> {
  const result = await sendWebhook(
    sending.client(),
    work,
    await sending.credentials.credentialsFor(work.endpoint.id, work.endpoint.updatedAt),
  );
  const record = { work, trigger, result, outcome: decide(result), finishedAt: new Date() } as const;
  await recordAttempts([record]);
  await applyEndpointConsequences([record], sending.outboundRules.settings.autoDisableAfterMs, logger);
  const delivery = await prisma.delivery.findUniqueOrThrow({ where: { id: work.deliveryId } });
  return { delivery, attemptNumber: work.attemptCount + 1, result };
}

/**
 * Sends a delivery now, whatever its state (a manual retry, or a replay of a succeeded one), with the same webhook-id.
 * If it fails, a delivery that was waiting for a retry keeps its schedule; a finished one stays FAILED.
 * @throws NotFoundError, ConflictError when a worker is sending it at this moment or it was cancelled.
 */
export async function retryDelivery(sending: Sending, tenantId: string, id: string): Promise<SendReport> {
  const existing = await findDelivery(tenantId, id);
  if (existing.status === "CANCELLED") throw new ConflictError("the delivery was cancelled", "id");
  const work = await claimDelivery(existing.id);
  if (!work) throw new ConflictError("the delivery is being sent right now; try again in a moment", "id");
  const wasWaiting = work.previous.status === "PENDING" || work.previous.status === "SENDING";
  return sendNow(sending, work, "MANUAL", (result) => {
    if (result.ok) return { kind: "succeeded" };
    if (wasWaiting)
      return { kind: "retry", delayMs: Math.max(0, work.previous.dueAt.getTime() - Date.now()), keepRetryIndex: true };
    const outcome = decideOutcome(result, [], 0);
    return outcome.kind === "failed" && outcome.disableEndpoint
      ? outcome
      : { kind: "failed", reason: "manual_attempt_failed" };
  });
}

/**
 * Sends the endpoint a `signalpost.test` event right now and reports what the receiver answered. Not retried; logged
 * as a TEST attempt; at most 5 a minute per endpoint. Works on disabled endpoints, to check them before enabling.
 */
export async function sendTestEvent(
  sending: Sending,
  tenantId: string,
  endpointId: string,
  origin: RequestOrigin,
): Promise<SendReport> {
  const endpoint = await findEndpoint(tenantId, endpointId);
  return sendTestTo(sending, endpoint, origin);
}

async function sendTestTo(sending: Sending, endpoint: Endpoint, origin: RequestOrigin): Promise<SendReport> {
  const decision = await rateLimit("test-sends", TESTS_PER_MINUTE, 60).consume(endpoint.id);
  if (!decision.allowed)
    throw new RateLimitedError(
      `at most ${TESTS_PER_MINUTE} test sends a minute per endpoint`,
      decision.retryAfterSeconds,
    );
  const delivery = await prisma.$transaction(async (tx) => {
    const event = await tx.event.create({
      data: {
        tenantId: endpoint.tenantId,
        eventType: TEST_EVENT_TYPE,
        payload: { message: "A test event from Signalpost", endpointId: endpoint.id, sentBy: origin.actor.name },
      },
    });
    // Created already leased, so no worker picks it up: this call sends it.
    return tx.delivery.create({
      data: {
        tenantId: endpoint.tenantId,
        eventId: event.id,
        endpointId: endpoint.id,
        eventType: TEST_EVENT_TYPE,
        status: "PENDING",
        dueAt: new Date(Date.now() + 3_600_000),
      },
    });
  });
  const work = await claimDelivery(delivery.id);
  if (!work) throw new Error("a fresh test delivery could not be claimed");
  // Sending to a disabled endpoint is the point of a test, so the claim's enabled flag is ignored here.
  return sendNow(sending, work, "TEST", (result) =>
    result.ok ? { kind: "succeeded" } : { kind: "failed", reason: "test_failed" },
  );
}

/** Test sends to every enabled endpoint of the tenant, concurrently; each result says how that endpoint answered. */
export async function sendTestEventToAll(sending: Sending, tenantId: string, origin: RequestOrigin) {
  const endpoints = await prisma.endpoint.findMany({
    where: { tenantId, enabled: true },
    orderBy: { createdAt: "asc" },
    take: 100,
  });
  return Promise.all(
    endpoints.map(async (endpoint) => {
      try {
        return { endpoint, report: await sendTestTo(sending, endpoint, origin), error: null };
      } catch (error) {
        if (error instanceof RateLimitedError) return { endpoint, report: null, error };
        throw error;
      }
    }),
  );
}

/**
 * Queues the endpoint's FAILED deliveries created in [since, until) again, with a fresh retry schedule; with dryRun,
 * only counts them. @throws NotFoundError, ValidationError (window), ConflictError (endpoint disabled).
 */
export async function recoverEndpoint(
  tenantId: string,
  endpointId: string,
  window: { since: Date; until?: Date | null; dryRun: boolean },
  origin: RequestOrigin,
): Promise<number> {
  const endpoint = await findEndpoint(tenantId, endpointId);
  const until = window.until ?? new Date();
  if (window.since >= until) throw new ValidationError("since must be before until", "since");
  const where = { endpointId, status: "FAILED" as const, createdAt: { gte: window.since, lt: until } };
  if (window.dryRun) return prisma.delivery.count({ where });
  if (!endpoint.enabled) throw new ConflictError("enable the endpoint before recovering its deliveries", "endpointId");
  const count = await prisma.$transaction(async (tx) => {
    const { count } = await tx.delivery.updateMany({
      where,
      data: { status: "PENDING", dueAt: new Date(), retryIndex: 0, failureReason: null, completedAt: null },
    });
    await recordAudit(
      {
        tenantId,
        ...origin,
        action: "endpoint.recovered",
        target: { type: "Endpoint", id: endpointId },
        metadata: { since: window.since.toISOString(), until: until.toISOString(), count },
      },
      tx,
    );
    return count;
  });
  // Due now: the dispatchers claim them once they hear of it, after the commit.
  if (count) wakeSoon(DELIVERIES_CHANNEL);
  return count;
}
