import { prisma } from "../../db/prisma.js";
import type { Endpoint } from "../../generated/prisma/client.js";

/** Attempt figures over one window. Test sends are left out: they say nothing about real traffic. */
export interface HealthWindow {
  attempts: number;
  successes: number;
  failures: number;
  /** Successes over attempts, 0 to 1; null without attempts. */
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

export type HealthState = "HEALTHY" | "FAILING" | "DISABLED";

export interface EndpointHealth {
  lastHour: HealthWindow;
  lastDay: HealthWindow;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  consecutiveFailures: number;
  failingSince: Date | null;
  state: HealthState;
}

interface WindowRow {
  attempts: bigint;
  successes: bigint;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

async function window(endpointId: string, hours: number): Promise<HealthWindow> {
  const [row] = await prisma.$queryRaw<WindowRow[]>`
    SELECT count(*) AS attempts,
           count(*) FILTER (WHERE "statusCode" BETWEEN 200 AND 299) AS successes,
           percentile_cont(0.50) WITHIN GROUP (ORDER BY "durationMs") AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY "durationMs") AS p95,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY "durationMs") AS p99
    FROM "DeliveryAttempt"
    WHERE "endpointId" = ${endpointId}::uuid AND "trigger" <> 'TEST'
      AND "createdAt" >= now() - ${hours} * interval '1 hour'`;
  const attempts = Number(row?.attempts ?? 0);
  const successes = Number(row?.successes ?? 0);
  const round = (value: number | null | undefined) =>
    value === null || value === undefined ? null : Math.round(value);
  return {
    attempts,
    successes,
    failures: attempts - successes,
    successRate: attempts ? successes / attempts : null,
    p50Ms: round(row?.p50),
    p95Ms: round(row?.p95),
    p99Ms: round(row?.p99),
  };
}

/** Health over the last hour and day, plus the failure streak the auto-disable rule watches. */
export async function endpointHealth(endpoint: Endpoint): Promise<EndpointHealth> {
  const [lastHour, lastDay] = await Promise.all([window(endpoint.id, 1), window(endpoint.id, 24)]);
  return {
    lastHour,
    lastDay,
    lastSuccessAt: endpoint.lastSuccessAt,
    lastFailureAt: endpoint.lastFailureAt,
    consecutiveFailures: endpoint.consecutiveFailures,
    failingSince: endpoint.failingSince,
    state: !endpoint.enabled ? "DISABLED" : endpoint.consecutiveFailures > 0 ? "FAILING" : "HEALTHY",
  };
}
