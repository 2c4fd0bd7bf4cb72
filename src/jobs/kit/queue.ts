import pg from "pg";
import PgBoss from "pg-boss";
import { ChannelListener } from "../../db/listen.js";
import { isDatabaseUnavailable } from "../../db/unavailable.js";
import type { Logger } from "../../logger.js";
import { type JobDefinition, runBatch } from "./define-job.js";
import { JOB_SCHEMA } from "./schema.js";

/** Distinct from the migration lock; held while pg-boss creates or upgrades its schema and our queues. */
const SETUP_LOCK_KEY = 72707370;

/**
 * Instances starting together would run pg-boss's schema and queue DDL concurrently, which PostgreSQL can answer with
 * "deadlock detected"; a session advisory lock makes them take turns.
 */
async function withSetupLock(databaseUrl: string, work: () => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: "signalpost-setup" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [SETUP_LOCK_KEY]);
    await work();
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [SETUP_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

export { JOB_SCHEMA };

/** A queue that jobs are sent to outside the job definitions (the delivery pipeline's), with its settings. */
export interface QueueSpec {
  name: string;
  options: Omit<PgBoss.Queue, "name">;
}

/**
 * Creates each missing queue and updates the settings of the others (inside the setup lock: see withSetupLock);
 * returns the names of those it created.
 */
async function createQueues(boss: PgBoss, queues: readonly QueueSpec[]): Promise<string[]> {
  const created: string[] = [];
  for (const queue of queues) {
    if (await boss.getQueue(queue.name)) {
      // Settings changed in a newer version apply to the jobs created from now on.
      await boss.updateQueue(queue.name, { name: queue.name, ...queue.options });
      continue;
    }
    await boss.createQueue(queue.name, { name: queue.name, ...queue.options });
    created.push(queue.name);
  }
  return created;
}

/**
 * Deletes a queue and all its jobs. pg-boss's deleteQueue refuses while the queue has jobs (its job table's foreign
 * key is RESTRICT) and purgeQueue leaves active and finished ones, so the jobs go first, by name: pg-boss 10's job
 * table, pinned with the version in tests/foundation/jobs.test.ts.
 */
async function retireQueue(boss: PgBoss, name: string): Promise<void> {
  if (!(await boss.getQueue(name))) return;
  await boss.getDb().executeSql(`DELETE FROM ${JOB_SCHEMA}.job WHERE name = $1`, [name]);
  await boss.deleteQueue(name);
}

/**
 * Creates (or upgrades) pg-boss's schema and the given queues, and deletes the `retired` queues with their jobs
 * (a missing one is no error), then lets go: run after the migrations by whatever migrates
 * (start-up, `signalpost migrate`, the test template), because producers insert jobs on their own connection
 * (produce.ts), which finds a queue only if it exists.
 */
export async function prepareJobQueues(
  databaseUrl: string,
  queues: readonly QueueSpec[],
  retired: readonly string[] = [],
): Promise<string[]> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: JOB_SCHEMA,
    application_name: "signalpost-setup",
    supervise: false,
    schedule: false,
    max: 1,
  });
  boss.on("error", () => undefined);
  let created: string[] = [];
  try {
    await withSetupLock(databaseUrl, async () => {
      await boss.start();
      created = await createQueues(boss, queues);
      for (const name of retired) await retireQueue(boss, name);
    });
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
  return created;
}

/**
 * How often pg-boss's maintenance runs (expiring the jobs of workers that died, archiving finished ones), at most once
 * per interval across all processes. pg-boss's default is 2 minutes; delivery jobs expire after 30 s, and a dead
 * worker's deliveries should not wait much longer than that.
 */
const MAINTENANCE_INTERVAL_SECONDS = 10;

export interface JobQueueOptions {
  /** Attach the job definitions' workers (and their cron schedules). */
  work: boolean;
  /** Run pg-boss's maintenance without workers (a process whose dispatcher fetches delivery jobs itself). */
  supervise?: boolean;
  /** Queues to create besides the job definitions' (the delivery pipeline's). */
  queues?: readonly QueueSpec[];
}

/** A started pg-boss with our workers attached. */
export interface JobQueue {
  boss: PgBoss;
  /** False once stopping has begun; /readyz reports it. */
  isHealthy(): boolean;
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Starts pg-boss in the application database (creating or upgrading its schema), creates each job's queue, and
 * attaches a worker per job. The explicit entry point for workers: nothing starts on import.
 */
export async function startJobQueue(
  databaseUrl: string,
  jobs: readonly JobDefinition[],
  logger: Logger,
  options: JobQueueOptions = { work: true },
): Promise<JobQueue> {
  // An API process only sends jobs: no maintenance, no cron, no workers. A process that fetches jobs itself (the
  // delivery dispatcher) supervises: pg-boss's maintenance expires the jobs of a worker that died, so they run again.
  const supervise = options.work || options.supervise === true;
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: JOB_SCHEMA,
    application_name: options.work ? "signalpost-worker" : "signalpost-api",
    ...(supervise ? { maintenanceIntervalSeconds: MAINTENANCE_INTERVAL_SECONDS } : { supervise: false }),
    ...(options.work ? {} : { schedule: false }),
  });
  let healthy = false;
  // pg-boss keeps polling through a database outage (each worker's loop catches the failed fetch, emits 'error' and
  // tries again after its interval), so an outage needs no action from us: say so once a minute, not twice a second
  // per worker with the whole client in the log line.
  let lastOutageLog = 0;
  let stopping = false;
  boss.on("error", (error) => {
    if (isDatabaseUnavailable(error)) {
      // Once stopping, the database going away is the shutdown itself (a connection pg-boss had not closed yet when
      // the embedded PostgreSQL stopped), not an outage to warn about.
      if (stopping) return;
      if (Date.now() - lastOutageLog < 60_000) return;
      lastOutageLog = Date.now();
      logger.warn({ reason: error.message }, "job queue: the database is unavailable; workers keep retrying");
      return;
    }
    logger.error({ err: error }, "job queue error");
  });
  await withSetupLock(databaseUrl, async () => {
    await boss.start();
    await createQueues(boss, options.queues ?? []);
    for (const job of jobs) {
      if (!(await boss.getQueue(job.name))) await boss.createQueue(job.name, { name: job.name, ...job.queue });
      if (job.schedule && options.work) await boss.schedule(job.name, job.schedule, {}, { tz: "UTC" });
    }
  });
  healthy = true;
  const listeners: ChannelListener[] = [];
  for (const job of jobs) {
    if (!options.work) continue;
    const batchSize = job.batchSize ?? 1;
    const workerId: string = await boss.work(
      job.name,
      { batchSize, includeMetadata: true, pollingIntervalSeconds: 0.5 },
      async (batch) => {
        await runBatch(job, batch, boss, logger);
        // A full batch means more are waiting: fetch again now rather than after the polling interval.
        if (batch.length === batchSize) boss.notifyWorker(workerId);
      },
    );
    if (job.wakeChannel) {
      const wake = () => boss.notifyWorker(workerId);
      // A reconnect wakes the worker too: jobs announced while the connection was down are waiting.
      const listener = new ChannelListener(databaseUrl, job.wakeChannel, wake, logger, wake);
      await listener.start();
      listeners.push(listener);
    }
  }
  if (options.work) logger.info({ jobs: jobs.map((job) => job.name) }, "job queue started");
  return {
    boss,
    isHealthy: () => healthy,
    stop: async (timeoutMs) => {
      healthy = false;
      stopping = true;
      await Promise.all(listeners.map((listener) => listener.stop()));
      // graceful: wait for running handlers (bounded by timeout); wait: resolve only once fully stopped.
      await boss.stop({ graceful: true, wait: true, timeout: Math.max(timeoutMs, 100) });
    },
  };
}
