import { named, prepared } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";
import { announceHealthChange, type DeliveryChange, type HealthChange, publishMany } from "../../db/pubsub.js";
import type { AttemptTrigger } from "../../generated/prisma/client.js";
import type { OutboundResult } from "../../lib/http-client.js";
import { attemptDuration, deliveriesTotal } from "../../lib/metrics.js";
import { maskUrlCredentials } from "../../lib/url-credentials.js";
import { logger } from "../../logger.js";
import {
  type ConsoleEventInput,
  consoleEventParams,
  consoleEventsInsertSql,
  wakeConsole,
} from "../console/console-events.js";
import { describeFailure, type Outcome } from "./delivery-outcome.js";
import { scheduleWakeUps } from "./delivery-wake-ups.js";

/** Everything needed to send one delivery, read in the same statement that claims it. */
export interface DeliveryWork {
  deliveryId: string;
  tenantId: string;
  eventId: string;
  eventType: string;
  payload: unknown;
  eventCreatedAt: Date;
  /** A forwarded request's body, sent as is instead of the envelope. */
  rawBody: string | null;
  /** A forwarded request's chosen headers. */
  extraHeaders: Record<string, string> | null;
  attemptCount: number;
  retryIndex: number;
  endpoint: {
    id: string;
    url: string;
    timeoutMs: number;
    verifyTls: boolean;
    /** The endpoint's own retry delays, in force when `retryPolicyCustom` (else the instance's default schedule). */
    retrySchedule: readonly number[];
    retryPolicyCustom: boolean;
    enabled: boolean;
    updatedAt: Date;
  };
  /** The delivery's state before this claim (a manual attempt that fails puts a waiting delivery back as it was). */
  previous: { status: string; dueAt: Date };
}

/** A claim's result row: the delivery and event columns as DeliveryWork has them, the endpoint's flattened. */
type ClaimedRow = Omit<DeliveryWork, "endpoint" | "previous"> & {
  endpointId: string;
  url: string;
  timeoutMs: number;
  verifyTls: boolean;
  retrySchedule: number[] | null;
  retryPolicyCustom: boolean;
  enabled: boolean;
  endpointUpdatedAt: Date;
  previousStatus: string;
  previousDueAt: Date;
};

/**
 * A claim is leased for the endpoint's timeout plus this grace (signing and recording); a worker that dies leaves
 * its rows to be claimed again when the lease runs out.
 */
export const DEFAULT_LEASE_GRACE_MS = 30_000;

/**
 * A claim's statement commits without waiting for its WAL flush (set_config(..., true) is SET LOCAL, for this
 * statement's own transaction; joining the CTE below makes PostgreSQL evaluate it). A claim lost in a crash only
 * means the delivery is claimed again, and the attempt's synchronous commit flushes every earlier claim with it.
 * Waiting for each claim's flush was most of the claim loop's time in the benchmark (4,016 -> 4,556 deliveries/s).
 */
const ASYNC_COMMIT = `commit_mode AS (SELECT set_config('synchronous_commit', 'off', true))`;

/** The lease and the columns every claim returns; `due` is the CTE that picked the rows. */
const CLAIM_UPDATE = `
    UPDATE "Delivery" d
    SET status = 'SENDING', "dueAt" = now() + (ep."timeoutMs" + $1::int) * interval '1 millisecond'
    FROM due, "Event" e, "Endpoint" ep, commit_mode
    WHERE d.id = due.id AND e.id = d."eventId" AND ep.id = d."endpointId"
    RETURNING d.id AS "deliveryId", d."tenantId", d."eventId", d."eventType", e.payload, e."createdAt" AS "eventCreatedAt",
      e."rawBody", e."extraHeaders",
      d."attemptCount", d."retryIndex", ep.id AS "endpointId", ep.url, ep."timeoutMs", ep."verifyTls",
      ep."retrySchedule", ep."retryPolicyCustom", ep.enabled, ep."updatedAt" AS "endpointUpdatedAt",
      due.status::text AS "previousStatus", due."dueAt" AS "previousDueAt"`;

// The delivery hot path speaks SQL to the pg pool directly: Prisma's per-query overhead (argument serialisation and
// result decoding in its runtime) was a third of the worker's CPU in the benchmark profile.

/**
 * Claims up to `limit` due deliveries, oldest due first: waiting ones whose time has come, and sending ones whose
 * worker's lease ran out (a worker that died). FOR UPDATE SKIP LOCKED lets any number of dispatchers claim side by
 * side without waiting on each other or taking one row twice; the claim leases each row (SENDING until the endpoint's
 * timeout plus the grace) and returns, in the same statement, the event and endpoint each needs.
 *
 * The partial index on "dueAt" (delivery_due_index migration) holds only waiting rows and is read in order, so a
 * claim stops after `limit` rows however large the backlog (0.25 ms with 100,000 due, measured with the table queue).
 */
export async function claimDueDeliveries(
  limit: number,
  leaseGraceMs = DEFAULT_LEASE_GRACE_MS,
): Promise<DeliveryWork[]> {
  const { rows } = await pool.query<ClaimedRow>(
    prepared(
      `WITH ${ASYNC_COMMIT}, due AS (
      SELECT id, status, "dueAt" FROM "Delivery"
      WHERE status IN ('PENDING', 'SENDING') AND "dueAt" <= now()
      ORDER BY "dueAt"
      LIMIT $2
      FOR UPDATE SKIP LOCKED
    ) ${CLAIM_UPDATE}`,
      [leaseGraceMs, limit],
    ),
  );
  return rows.map(toWork);
}

/**
 * Claims one delivery whatever its schedule (a manual retry or a test send), unless a worker holds a live lease on
 * it. Resolves with null when it is being sent right now.
 */
export async function claimDelivery(id: string): Promise<DeliveryWork | null> {
  const { rows } = await pool.query<ClaimedRow>(
    prepared(
      `WITH ${ASYNC_COMMIT}, due AS (
      SELECT id, status, "dueAt" FROM "Delivery"
      WHERE id = $2::uuid AND NOT (status = 'SENDING' AND "dueAt" > now())
      FOR UPDATE SKIP LOCKED
    ) ${CLAIM_UPDATE}`,
      [DEFAULT_LEASE_GRACE_MS, id],
    ),
  );
  const [row] = rows;
  return row ? toWork(row) : null;
}

function toWork(row: ClaimedRow): DeliveryWork {
  return {
    deliveryId: row.deliveryId,
    tenantId: row.tenantId,
    eventId: row.eventId,
    eventType: row.eventType,
    payload: row.payload,
    eventCreatedAt: row.eventCreatedAt,
    rawBody: row.rawBody,
    extraHeaders: row.extraHeaders,
    attemptCount: row.attemptCount,
    retryIndex: row.retryIndex,
    endpoint: {
      id: row.endpointId,
      url: row.url,
      timeoutMs: row.timeoutMs,
      verifyTls: row.verifyTls,
      retrySchedule: row.retrySchedule ?? [],
      retryPolicyCustom: row.retryPolicyCustom,
      enabled: row.enabled,
      updatedAt: row.endpointUpdatedAt,
    },
    previous: { status: row.previousStatus, dueAt: row.previousDueAt },
  };
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

/** Column arrays for one multi-row statement: pushing each record's values keeps the batch to a handful of queries. */
function columns<Row extends Record<string, unknown>>(rows: readonly Row[]): { [K in keyof Row]: Row[K][] } {
  const result = {} as { [K in keyof Row]: Row[K][] };
  for (const row of rows) {
    for (const key of Object.keys(row) as (keyof Row)[]) {
      result[key] ??= [];
      result[key].push(row[key]);
    }
  }
  return result;
}

/**
 * Records a batch of attempts in one statement: a multi-row insert of attempts, an UPDATE ... FROM unnest for the
 * deliveries (succeeded, rescheduled with the next dueAt, or failed), one for the endpoints' failure streaks, and the
 * console events.
 */
export async function recordAttempts(records: readonly AttemptRecord[]): Promise<void> {
  if (records.length === 0) return;
  // When the retries fall due, a wake-up job tells the dispatchers to look (delivery-wake-ups.ts). A manual attempt
  // that keeps the schedule (keepRetryIndex) leaves the delivery's due time, and its wake-up, as they were.
  const retryTimes = records.flatMap(({ outcome, finishedAt }) =>
    outcome.kind === "retry" && !outcome.keepRetryIndex ? [new Date(finishedAt.getTime() + outcome.delayMs)] : [],
  );
  const attempts = columns(
    records.map(({ work, result, trigger, finishedAt }) => ({
      tenantId: work.tenantId,
      deliveryId: work.deliveryId,
      endpointId: work.endpoint.id,
      number: work.attemptCount + 1,
      trigger,
      statusCode: result.statusCode,
      durationMs: Math.round(result.durationMs),
      responseHeaders: JSON.stringify(
        Object.fromEntries(Object.entries(result.responseHeaders).slice(0, RESPONSE_HEADERS_KEPT)),
      ),
      responseBody: result.responseBody || null,
      errorClass: result.error?.class ?? null,
      errorMessage: result.error?.message ?? null,
      createdAt: finishedAt.toISOString(),
    })),
  );
  const deliveries = columns(
    records.map(({ work, result, outcome, finishedAt }) => ({
      id: work.deliveryId,
      status: outcome.kind === "succeeded" ? "SUCCEEDED" : outcome.kind === "retry" ? "PENDING" : "FAILED",
      due: new Date(finishedAt.getTime() + (outcome.kind === "retry" ? outcome.delayMs : 0)).toISOString(),
      retryIndex: outcome.kind === "retry" && !outcome.keepRetryIndex ? work.retryIndex + 1 : work.retryIndex,
      code: result.statusCode,
      error: describeFailure(result),
      finished: finishedAt.toISOString(),
      reason: outcome.kind === "failed" ? outcome.reason : null,
    })),
  );
  const streaks = columns(endpointStreaks(records));
  const consoleEvents = records.map(consoleEventOf);
  // One statement, so one round trip and its own transaction: the attempts, the deliveries' new state, the
  // endpoints' streaks and the console events commit together. Data-modifying WITH clauses all run, on one
  // snapshot: `before` below is the endpoint as it was before this statement.
  const statement = named(
    `WITH attempts AS (
         INSERT INTO "DeliveryAttempt" ("tenantId", "deliveryId", "endpointId", "number", "trigger", "statusCode",
           "durationMs", "responseHeaders", "responseBody", "errorClass", "errorMessage", "createdAt")
         SELECT * FROM unnest($attemptTenantId::uuid[], $attemptDeliveryId::uuid[], $attemptEndpointId::uuid[],
           $attemptNumber::int[], $attemptTrigger::"AttemptTrigger"[], $attemptStatusCode::int[],
           $attemptDurationMs::int[], $attemptResponseHeaders::jsonb[], $attemptResponseBody::text[],
           $attemptErrorClass::text[], $attemptErrorMessage::text[], $attemptCreatedAt::timestamptz[])
       ), deliveries AS (
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
         FROM unnest($deliveryId::uuid[], $deliveryStatus::text[], $deliveryDue::timestamptz[],
           $deliveryRetryIndex::int[], $deliveryCode::int[], $deliveryError::text[], $deliveryFinished::timestamptz[],
           $deliveryReason::text[]) AS u(id, status, due, retry_index, code, error, finished, reason)
         WHERE d.id = u.id
       ), console AS (
         ${consoleEventsInsertSql()}
       ), updated AS (
         -- A batch's results decide each endpoint's streak: a success ends it (the counter restarts from the
         -- failures after it), failures without a success extend it. "updatedAt" (the owner's edits, which key the
         -- workers' secret caches) is left alone.
         UPDATE "Endpoint" ep SET
           "lastSuccessAt" = COALESCE(s.success_at, ep."lastSuccessAt"),
           "lastFailureAt" = COALESCE(s.last_failure_at, ep."lastFailureAt"),
           "consecutiveFailures" = CASE WHEN s.success_at IS NOT NULL THEN s.failures_after
                                        ELSE ep."consecutiveFailures" + s.failures_after END,
           "failingSince" = CASE WHEN s.success_at IS NOT NULL THEN s.first_failure_after
                                 ELSE COALESCE(ep."failingSince", s.first_failure_after) END
         FROM unnest($streakEndpointId::uuid[], $streakSuccessAt::timestamptz[], $streakLastFailureAt::timestamptz[],
           $streakFailuresAfter::int[], $streakFirstFailureAfter::timestamptz[])
           AS s(id, success_at, last_failure_at, failures_after, first_failure_after), "Endpoint" before
         WHERE ep.id = s.id AND before.id = ep.id
         RETURNING ep.id, ep."tenantId", ep.enabled, before."consecutiveFailures" AS failures_before,
           ep."consecutiveFailures" AS failures_after
       )
       -- The endpoints whose health state this batch changed (a first failure, or a success ending a streak).
       SELECT id AS "endpointId", "tenantId", CASE WHEN failures_after > 0 THEN 'FAILING' ELSE 'HEALTHY' END AS state,
         CASE WHEN failures_before > 0 THEN 'FAILING' ELSE 'HEALTHY' END AS "previousState"
       FROM updated WHERE enabled AND (failures_before > 0) <> (failures_after > 0)`,
    {
      attemptTenantId: attempts.tenantId,
      attemptDeliveryId: attempts.deliveryId,
      attemptEndpointId: attempts.endpointId,
      attemptNumber: attempts.number,
      attemptTrigger: attempts.trigger,
      attemptStatusCode: attempts.statusCode,
      attemptDurationMs: attempts.durationMs,
      attemptResponseHeaders: attempts.responseHeaders,
      attemptResponseBody: attempts.responseBody,
      attemptErrorClass: attempts.errorClass,
      attemptErrorMessage: attempts.errorMessage,
      attemptCreatedAt: attempts.createdAt,
      deliveryId: deliveries.id,
      deliveryStatus: deliveries.status,
      deliveryDue: deliveries.due,
      deliveryRetryIndex: deliveries.retryIndex,
      deliveryCode: deliveries.code,
      deliveryError: deliveries.error,
      deliveryFinished: deliveries.finished,
      deliveryReason: deliveries.reason,
      streakEndpointId: streaks.id,
      streakSuccessAt: streaks.successAt,
      streakLastFailureAt: streaks.lastFailureAt,
      streakFailuresAfter: streaks.failuresAfter,
      streakFirstFailureAfter: streaks.firstFailureAfter,
      ...consoleEventParams(consoleEvents),
    },
  );
  // One statement is its own transaction: no BEGIN/COMMIT round trips on the hot path. The wake-ups follow it on
  // their own: the rows are already due by their "dueAt", and a wake-up lost between the two costs the idle poll.
  const { rows: healthChanges } = await pool.query<HealthChange>(statement);
  // Never thrown past here: the batch is recorded, and a caller that saw an error would record it a second time.
  if (retryTimes.length) {
    await scheduleWakeUps(pool, retryTimes).catch((error: unknown) =>
      logger.warn({ err: error, retries: retryTimes.length }, "retry wake-ups not stored; the idle poll finds them"),
    );
  }
  wakeConsole();
  countAttempts(records, consoleEvents);
  announceChanges(records, deliveries.status);
  for (const change of healthChanges) announceHealthChange(change);
}

/** The console's line for an attempt: what happened to the delivery, in the receiver's words. */
function consoleEventOf({ work, trigger, result, outcome, finishedAt }: AttemptRecord): ConsoleEventInput {
  const kind =
    trigger === "TEST"
      ? "TEST_SENT"
      : outcome.kind === "succeeded"
        ? "ATTEMPT_SUCCEEDED"
        : trigger === "MANUAL" &&
            (outcome.kind === "retry" ? outcome.keepRetryIndex : outcome.reason === "manual_attempt_failed")
          ? "ATTEMPT_FAILED"
          : outcome.kind === "retry"
            ? "RETRY_SCHEDULED"
            : "DELIVERY_DEAD";
  return {
    tenantId: work.tenantId,
    kind,
    endpointId: work.endpoint.id,
    deliveryId: work.deliveryId,
    data: {
      eventId: work.eventId,
      eventType: work.eventType,
      url: maskUrlCredentials(work.endpoint.url),
      attempt: work.attemptCount + 1,
      trigger,
      succeeded: result.ok,
      statusCode: result.statusCode,
      durationMs: Math.round(result.durationMs),
      errorClass: result.error?.class ?? null,
      ...(outcome.kind === "retry"
        ? { nextAttemptAt: new Date(finishedAt.getTime() + outcome.delayMs).toISOString() }
        : {}),
      ...(outcome.kind === "failed" ? { reason: outcome.reason } : {}),
    },
  };
}

const OUTCOME_LABELS: Record<string, string> = {
  ATTEMPT_SUCCEEDED: "succeeded",
  ATTEMPT_FAILED: "manual_failed",
  RETRY_SCHEDULED: "retry_scheduled",
  DELIVERY_DEAD: "dead",
  TEST_SENT: "test",
};

function countAttempts(records: readonly AttemptRecord[], events: readonly ConsoleEventInput[]): void {
  records.forEach((record, index) => {
    deliveriesTotal.inc({ outcome: OUTCOME_LABELS[events[index]?.kind ?? ""] ?? "other" });
    attemptDuration.observe(record.result.durationMs / 1000);
  });
}

/** Tells deliveryUpdated subscribers (on every instance), one notification per tenant and few dozen deliveries. */
function announceChanges(records: readonly AttemptRecord[], statuses: string[]): void {
  const byTenant = new Map<string, DeliveryChange[]>();
  records.forEach((record, index) => {
    const changes = byTenant.get(record.work.tenantId) ?? [];
    changes.push({
      deliveryId: record.work.deliveryId,
      endpointId: record.work.endpoint.id,
      eventId: record.work.eventId,
      status: statuses[index] as string,
    });
    byTenant.set(record.work.tenantId, changes);
  });
  for (const [tenantId, changes] of byTenant) publishMany("delivery:updated", tenantId, changes);
}

type Streak = {
  id: string;
  successAt: string | null;
  lastFailureAt: string | null;
  failuresAfter: number;
  firstFailureAfter: string | null;
};

/** Per endpoint, in the batch's order: the last success, and the failures after it. */
function endpointStreaks(records: readonly AttemptRecord[]): Streak[] {
  const byEndpoint = new Map<string, Streak>();
  for (const record of records) {
    const id = record.work.endpoint.id;
    const streak = byEndpoint.get(id) ?? {
      id,
      successAt: null,
      lastFailureAt: null,
      failuresAfter: 0,
      firstFailureAfter: null,
    };
    const at = record.finishedAt.toISOString();
    if (record.outcome.kind === "succeeded") {
      streak.successAt = at;
      streak.failuresAfter = 0;
      streak.firstFailureAfter = null;
    } else {
      streak.failuresAfter += 1;
      streak.firstFailureAfter ??= at;
      streak.lastFailureAt = at;
    }
    byEndpoint.set(id, streak);
  }
  return [...byEndpoint.values()];
}

/**
 * Deliveries due and not yet taken by a worker (waiting ones whose time has come, and leases that ran out), and how
 * long the oldest has waited: the queue gauges read at each scrape, from the Delivery rows' partial "dueAt" index.
 */
export async function readQueueGauges(): Promise<{ depth: number; oldestAgeSeconds: number }> {
  const { rows } = await pool.query<{ depth: number; age: number | null }>(
    prepared(
      `SELECT count(*)::int AS depth, extract(epoch FROM now() - min("dueAt"))::float8 AS age
       FROM "Delivery" WHERE status IN ('PENDING', 'SENDING') AND "dueAt" <= now()`,
    ),
  );
  return { depth: rows[0]?.depth ?? 0, oldestAgeSeconds: Math.max(rows[0]?.age ?? 0, 0) };
}
