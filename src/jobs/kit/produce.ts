import PgBoss from "pg-boss";
import { prepared } from "../../db/prepared.js";
import { JOB_SCHEMA } from "./schema.js";

/**
 * A connection to run pg-boss's statements on: the caller's own (a pg client inside its transaction, or a Prisma
 * transaction through {@link prismaConnection}), so that jobs commit or roll back with the work that needs them.
 */
export interface JobConnection {
  query(statement: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** A Prisma interactive transaction as a {@link JobConnection}. */
export function prismaConnection(tx: {
  $queryRawUnsafe(query: string, ...values: unknown[]): Promise<unknown>;
}): JobConnection {
  return {
    query: async ({ text, values = [] }) => ({ rows: (await tx.$queryRawUnsafe(text, ...values)) as unknown[] }),
  };
}

/**
 * pg-boss builds its statements in an instance (the schema name is part of them). This one is never started and owns
 * no connection: every call below hands it the caller's connection as `db`, so it is a statement builder shared by
 * the process, not state. A call without a connection is a programming error.
 */
const statements = new PgBoss({
  schema: JOB_SCHEMA,
  db: {
    executeSql: async () => {
      throw new Error("job statements run on the caller's connection");
    },
  },
});

/** pg-boss's statements are few and fixed: prepared once per connection, like the hot paths' own (db/prepared.ts). */
function asDb(connection: JobConnection): PgBoss.Db {
  return { executeSql: (text, values) => connection.query(prepared(text, values)) as Promise<{ rows: never[] }> };
}

/**
 * Inserts jobs on the caller's connection, in its transaction. pg-boss skips a job whose queue does not exist without
 * a word (and its insert reports nothing back), so the queues are created before anything can send: by whatever
 * migrates the database (prepareJobQueues) and by every start-up.
 */
export async function insertJobs(connection: JobConnection, jobs: readonly PgBoss.JobInsert[]): Promise<void> {
  if (jobs.length === 0) return;
  await statements.insert([...jobs], { db: asDb(connection) });
}

/** Cancels jobs that have not started, on the caller's connection (unknown or finished ids are ignored). */
export async function cancelJobs(connection: JobConnection, queue: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await statements.cancel(queue, [...ids], { db: asDb(connection) });
}
