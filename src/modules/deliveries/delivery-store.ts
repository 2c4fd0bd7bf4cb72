import { prisma } from "../../db/prisma.js";
import { type AttemptTrigger, Prisma } from "../../generated/prisma/client.js";
import type { OutboundResult } from "../../lib/http-client.js";
import { describeFailure, type Outcome } from "./delivery-outcome.js";
import { effectiveDelays } from "./retry-policy.js";

/** Everything needed to send one delivery, read in the same statement that claims it. */
export interface DeliveryWork {
  deliveryId: string;
  tenantId: string;
  eventId: string;
  eventType: string;
  payload: unknown;
  eventCreatedAt: Date;
  attemptCount: number;
  retryIndex: number;
  endpoint: {
    id: string;
    url: string;
    headers: Record<string, string>;
    timeoutMs: number;
    verifyTls: boolean;
    /** The retry delays in force (the default schedule unless the endpoint has its own). */
    retryDelays: readonly number[];
    enabled: boolean;
    updatedAt: Date;
  };
  /** The delivery's state before this claim (a manual attempt that fails puts a waiting delivery back as it was). */
  previous: { status: string; dueAt: Date };
}

interface ClaimedRow {
  deliveryId: string;
  tenantId: string;
  eventId: string;
  eventType: string;
  payload: unknown;
  eventCreatedAt: Date;
  attemptCount: number;
  retryIndex: number;
  endpointId: string;
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  verifyTls: boolean;
  retrySchedule: number[] | null;
  retryPolicyCustom: boolean;
  enabled: boolean;
  endpointUpdatedAt: Date;
  previousStatus: string;
  previousDueAt: Date;
}

/**
 * A claim is leased for the endpoint's timeout plus this grace (signing and recording); a worker that dies leaves
 * its rows to be claimed again when the lease runs out.
 */
export const DEFAULT_LEASE_GRACE_MS = 30_000;

/** The lease and the columns every claim returns; `due` is the CTE that picked the rows. */
const claimUpdate = (leaseGraceMs: number) => Prisma.sql`
    UPDATE "Delivery" d
    SET status = 'SENDING', "dueAt" = now() + (ep."timeoutMs" + ${leaseGraceMs}) * interval '1 millisecond'
    FROM due, "Event" e, "Endpoint" ep
    WHERE d.id = due.id AND e.id = d."eventId" AND ep.id = d."endpointId"
    RETURNING d.id AS "deliveryId", d."tenantId", d."eventId", d."eventType", e.payload, e."createdAt" AS "eventCreatedAt",
      d."attemptCount", d."retryIndex", ep.id AS "endpointId", ep.url, ep.headers, ep."timeoutMs", ep."verifyTls",
      ep."retrySchedule", ep."retryPolicyCustom", ep.enabled, ep."updatedAt" AS "endpointUpdatedAt",
      due.status::text AS "previousStatus", due."dueAt" AS "previousDueAt"`;

/**
 * Claims up to `limit` due deliveries (waiting ones whose time has come, and sending ones whose worker's lease ran out)
 * with FOR UPDATE SKIP LOCKED, so any number of workers share the queue without taking the same row, and leases them.
 * The same statement returns the event and endpoint each needs.
 */
export async function claimDueDeliveries(
  limit: number,
  leaseGraceMs = DEFAULT_LEASE_GRACE_MS,
): Promise<DeliveryWork[]> {
  return claim(prisma.$queryRaw<ClaimedRow[]>`
    WITH due AS (
      SELECT id, status, "dueAt" FROM "Delivery"
      WHERE status IN ('PENDING', 'SENDING') AND "dueAt" <= now()
      ORDER BY "dueAt"
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    ${claimUpdate(leaseGraceMs)}`);
}

/**
 * Claims one delivery whatever its schedule (a manual retry or a test send), unless a worker holds a live lease on
 * it. Resolves with null when it is being sent right now.
 */
export async function claimDelivery(id: string): Promise<DeliveryWork | null> {
  const [work] = await claim(prisma.$queryRaw<ClaimedRow[]>`
    WITH due AS (
      SELECT id, status, "dueAt" FROM "Delivery"
      WHERE id = ${id}::uuid AND NOT (status = 'SENDING' AND "dueAt" > now())
      FOR UPDATE SKIP LOCKED
    )
    ${claimUpdate(DEFAULT_LEASE_GRACE_MS)}`);
  return work ?? null;
}

async function claim(query: Promise<ClaimedRow[]>): Promise<DeliveryWork[]> {
  const rows = await query;
  return rows.map((row) => ({
    deliveryId: row.deliveryId,
    tenantId: row.tenantId,
    eventId: row.eventId,
    eventType: row.eventType,
    payload: row.payload,
    eventCreatedAt: row.eventCreatedAt,
    attemptCount: row.attemptCount,
    retryIndex: row.retryIndex,
    endpoint: {
      id: row.endpointId,
      url: row.url,
      headers: row.headers,
      timeoutMs: row.timeoutMs,
      verifyTls: row.verifyTls,
      retryDelays: effectiveDelays({
        retrySchedule: row.retrySchedule ?? [],
        retryPolicyCustom: row.retryPolicyCustom,
      }),
      enabled: row.enabled,
      updatedAt: row.endpointUpdatedAt,
    },
    previous: { status: row.previousStatus, dueAt: row.previousDueAt },
  }));
}

/** One finished attempt, ready to be recorded. */
export interface AttemptRecord {
  work: DeliveryWork;
  trigger: AttemptTrigger;
  result: OutboundResult;
  outcome: Outcome;
  finishedAt: Date;
}

const RESPONSE_HEADERS_KEPT = 50;

function attemptRow(record: AttemptRecord): Prisma.DeliveryAttemptCreateManyInput {
  const { work, result } = record;
  return {
    tenantId: work.tenantId,
    deliveryId: work.deliveryId,
    endpointId: work.endpoint.id,
    number: work.attemptCount + 1,
    trigger: record.trigger,
    statusCode: result.statusCode,
    durationMs: Math.round(result.durationMs),
    responseHeaders: Object.fromEntries(
      Object.entries(result.responseHeaders).slice(0, RESPONSE_HEADERS_KEPT),
    ) as Prisma.InputJsonObject,
    responseBody: result.responseBody || null,
    errorClass: result.error?.class ?? null,
    errorMessage: result.error?.message ?? null,
    createdAt: record.finishedAt,
  };
}

/**
 * Records a batch of attempts in a few statements: one multi-row insert of attempts, one UPDATE ... FROM unnest for the
 * deliveries (succeeded, rescheduled with the next dueAt, or failed), and the endpoints' failure streaks, all in one
 * transaction.
 */
export async function recordAttempts(records: readonly AttemptRecord[]): Promise<void> {
  if (records.length === 0) return;
  const ids: string[] = [];
  const statuses: string[] = [];
  const dueAts: string[] = [];
  const retryIndexes: number[] = [];
  const codes: (number | null)[] = [];
  const errors: (string | null)[] = [];
  const finished: string[] = [];
  const reasons: (string | null)[] = [];
  for (const record of records) {
    const { outcome, work, result } = record;
    ids.push(work.deliveryId);
    statuses.push(outcome.kind === "succeeded" ? "SUCCEEDED" : outcome.kind === "retry" ? "PENDING" : "FAILED");
    dueAts.push(new Date(record.finishedAt.getTime() + (outcome.kind === "retry" ? outcome.delayMs : 0)).toISOString());
    retryIndexes.push(outcome.kind === "retry" && !outcome.keepRetryIndex ? work.retryIndex + 1 : work.retryIndex);
    codes.push(result.statusCode);
    errors.push(describeFailure(result));
    finished.push(record.finishedAt.toISOString());
    reasons.push(outcome.kind === "failed" ? outcome.reason : null);
  }
  await prisma.$transaction([
    prisma.deliveryAttempt.createMany({ data: records.map(attemptRow) }),
    prisma.$executeRaw`
      UPDATE "Delivery" d SET
        status = u.status::"DeliveryStatus",
        "dueAt" = u.due,
        "attemptCount" = d."attemptCount" + 1,
        "retryIndex" = u.retry_index,
        "lastStatusCode" = u.code,
        "lastError" = u.error,
        "lastAttemptAt" = u.finished,
        "completedAt" = CASE WHEN u.status IN ('SUCCEEDED', 'FAILED') THEN u.finished ELSE NULL END,
        "failureReason" = u.reason
      FROM unnest(${ids}::uuid[], ${statuses}::text[], ${dueAts}::timestamptz[], ${retryIndexes}::int[], ${codes}::int[],
                  ${errors}::text[], ${finished}::timestamptz[], ${reasons}::text[])
        AS u(id, status, due, retry_index, code, error, finished, reason)
      WHERE d.id = u.id`,
    ...endpointStreakUpdates(records),
  ]);
}

/**
 * Per endpoint, the batch's results in order decide the failure streak: a success ends it (and resets the counter),
 * failures after the last success extend it. Raw SQL so that `updatedAt`, which tracks the owner's edits (and keys the
 * workers' secret caches), is left alone.
 */
function endpointStreakUpdates(records: readonly AttemptRecord[]) {
  interface Streak {
    successAt: Date | null;
    failuresAfter: number;
    firstFailureAfter: Date | null;
    lastFailureAt: Date | null;
  }
  const byEndpoint = new Map<string, Streak>();
  for (const record of records) {
    const streak = byEndpoint.get(record.work.endpoint.id) ?? {
      successAt: null,
      failuresAfter: 0,
      firstFailureAfter: null,
      lastFailureAt: null,
    };
    if (record.outcome.kind === "succeeded") {
      streak.successAt = record.finishedAt;
      streak.failuresAfter = 0;
      streak.firstFailureAfter = null;
    } else {
      streak.failuresAfter += 1;
      streak.firstFailureAfter ??= record.finishedAt;
      streak.lastFailureAt = record.finishedAt;
    }
    byEndpoint.set(record.work.endpoint.id, streak);
  }
  return [...byEndpoint.entries()].map(([id, streak]) => {
    const hadSuccess = streak.successAt !== null;
    return prisma.$executeRaw`
      UPDATE "Endpoint" SET
        "lastSuccessAt" = COALESCE(${streak.successAt?.toISOString() ?? null}::timestamptz, "lastSuccessAt"),
        "lastFailureAt" = COALESCE(${streak.lastFailureAt?.toISOString() ?? null}::timestamptz, "lastFailureAt"),
        "consecutiveFailures" = CASE WHEN ${hadSuccess} THEN ${streak.failuresAfter}
                                     ELSE "consecutiveFailures" + ${streak.failuresAfter} END,
        "failingSince" = CASE WHEN ${hadSuccess} THEN ${streak.firstFailureAfter?.toISOString() ?? null}::timestamptz
                              ELSE COALESCE("failingSince", ${streak.firstFailureAfter?.toISOString() ?? null}::timestamptz) END
      WHERE id = ${id}::uuid`;
  });
}
