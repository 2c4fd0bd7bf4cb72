import type PgBoss from "pg-boss";
import type { z } from "zod";
import type { Logger } from "../../logger.js";

/** What a job handler gets: the validated payload and a logger that carries the job's id and attempt. */
export interface JobContext<Payload> {
  data: Payload;
  jobId: string;
  /** 0 on the first try, then 1, 2, ... */
  retryCount: number;
  logger: Logger;
}

export interface JobSpec<Schema extends z.ZodType> {
  /** The pg-boss queue name; also the log field `job`. */
  name: string;
  /** Validates the payload when it is sent and again when it is worked. */
  schema: Schema;
  /** Queue settings (retries, expiry) applied when the queue is created. */
  queue?: Omit<PgBoss.Queue, "name">;
  /** How many jobs one fetch takes; each is still handled on its own. */
  batchSize?: number;
  /** A cron expression (UTC): pg-boss sends the job on this schedule, once across all workers. */
  schedule?: string;
  /** A NOTIFY channel that wakes this job's worker at once instead of at its next poll. */
  wakeChannel?: string;
  handle(context: JobContext<z.output<Schema>>): Promise<void>;
}

/** A job definition: send it from anywhere, work it from the worker entry point. */
export interface JobDefinition<Schema extends z.ZodType = z.ZodType> extends JobSpec<Schema> {
  send(boss: PgBoss, data: z.input<Schema>, options?: PgBoss.SendOptions): Promise<string | null>;
}

/**
 * Declares a job. Defining does nothing else: queues are created and workers attached by `startJobQueue`, never
 * as an import side effect.
 */
export function defineJob<Schema extends z.ZodType>(spec: JobSpec<Schema>): JobDefinition<Schema> {
  return {
    ...spec,
    send: async (boss, data, options = {}) => boss.send(spec.name, spec.schema.parse(data) as object, options),
  };
}

/**
 * Runs a fetched batch's jobs side by side; a job that throws is failed (and retried by pg-boss) on its own, the
 * others are completed together.
 */
export async function runBatch<Schema extends z.ZodType>(
  job: JobDefinition<Schema>,
  batch: PgBoss.JobWithMetadata<unknown>[],
  boss: PgBoss,
  logger: Logger,
): Promise<void> {
  const completed: string[] = [];
  await Promise.all(
    batch.map(async (item) => {
      const jobLogger = logger.child({ job: job.name, jobId: item.id, attempt: item.retryCount + 1 });
      try {
        const data = job.schema.parse(item.data);
        await job.handle({ data, jobId: item.id, retryCount: item.retryCount, logger: jobLogger });
        completed.push(item.id);
      } catch (error) {
        jobLogger.warn({ err: error }, "job failed");
        await boss.fail(job.name, item.id, { message: (error as Error).message });
      }
    }),
  );
  // One statement for the whole batch's successes.
  if (completed.length) await boss.complete(job.name, completed);
}
