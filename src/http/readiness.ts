import { appliedMigrationNames } from "../db/migrator.js";
import { pool } from "../db/prisma.js";
import type { JobQueue } from "../jobs/kit/queue.js";
import type { Logger } from "../logger.js";

/**
 * One readiness check. `/readyz` answers anyone, so it carries the name, whether it passed and a short code only;
 * the `detail` (a driver's error text can name hosts, users and databases) is logged, never answered.
 */
export interface ReadinessCheck {
  name: string;
  ok: boolean;
  /** Why it failed, in a word: UNREACHABLE, TIMEOUT, QUERY_FAILED, PENDING, STOPPED, SHUTTING_DOWN; for the embedded
   * PostgreSQL, RESTARTING while its supervisor brings it back and FAILED once it gave up. */
  code?: string;
  /** For the log only. */
  detail?: string;
}

/** A check that does not answer within this long has failed: a load balancer should not wait on a hung database. */
const DATABASE_CHECK_TIMEOUT_MS = 3_000;

/** Database reachable, every known migration applied (another instance may roll back), job queue running. */
export async function readinessChecks(
  knownMigrations: readonly string[],
  jobs: JobQueue | undefined,
): Promise<ReadinessCheck[]> {
  const checks: ReadinessCheck[] = [];
  try {
    const names = await withTimeout(appliedMigrationNames(pool), DATABASE_CHECK_TIMEOUT_MS);
    checks.push({ name: "database", ok: true });
    const pending = knownMigrations.filter((name) => !names.has(name));
    checks.push(
      pending.length
        ? { name: "migrations", ok: false, code: "PENDING", detail: `pending: ${pending.join(", ")}` }
        : { name: "migrations", ok: true },
    );
  } catch (error) {
    checks.push({ name: "database", ok: false, code: databaseFailureCode(error), detail: String(error) });
  }
  if (jobs)
    checks.push(jobs.isHealthy() ? { name: "jobQueue", ok: true } : { name: "jobQueue", ok: false, code: "STOPPED" });
  return checks;
}

class CheckTimeout extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * PostgreSQL's own errors carry a severity (the server answered: QUERY_FAILED); anything else (refused, reset,
 * terminated connections) never reached it (UNREACHABLE).
 */
function databaseFailureCode(error: unknown): string {
  if (error instanceof CheckTimeout) return "TIMEOUT";
  return typeof (error as { severity?: unknown }).severity === "string" ? "QUERY_FAILED" : "UNREACHABLE";
}

/**
 * What `/readyz` answers for `checks`: name, ok and code, nothing else. Failures are logged with their detail, once
 * each time a check's failure changes (probes come every few seconds; the log should not), and recoveries too.
 */
export function answerReadiness(
  checks: readonly ReadinessCheck[],
  logger: Logger,
): Pick<ReadinessCheck, "name" | "ok" | "code">[] {
  for (const check of checks) {
    const failure = check.ok ? undefined : `${check.code ?? ""} ${check.detail ?? ""}`;
    if (lastFailures.get(check.name) === failure) continue;
    if (failure === undefined) {
      lastFailures.delete(check.name);
      logger.info({ check: check.name }, "readiness check passes again");
    } else {
      lastFailures.set(check.name, failure);
      logger.warn({ check: check.name, code: check.code, detail: check.detail }, "readiness check failed");
    }
  }
  return checks.map(({ name, ok, code }) => (code === undefined ? { name, ok } : { name, ok, code }));
}

/** The last failure logged per check name (a handful of names). */
const lastFailures = new Map<string, string | undefined>();
