import type pg from "pg";

/**
 * Runs `work` on one pooled connection inside BEGIN ... COMMIT, and ROLLBACK when it throws (the error is rethrown).
 * The connection goes back to the pool afterwards; when even the ROLLBACK fails (the server killed the connection,
 * or it broke mid-transaction), it is released with that error so the pool discards it instead of handing a broken
 * or still-open transaction to the next caller. For SQL written on the pg pool; Prisma code uses `prisma.$transaction`.
 */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await inTransaction(client, work, (error) => {
      broken = error;
    });
  } finally {
    client.release(broken);
  }
}

/**
 * Runs `work` on one pooled connection without a transaction (each statement commits on its own), for code that
 * needs a transaction only sometimes (`withTransaction` otherwise). A connection the server killed is not queryable
 * any more, and pg-pool discards such a client on release by itself.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await work(client);
  } finally {
    client.release();
  }
}

/**
 * BEGIN, `work`, COMMIT on a connection the caller holds (the migrator's own client); ROLLBACK and rethrow when
 * `work` throws. `onBroken` hears of a ROLLBACK that failed, which means the connection is unusable.
 */
export async function inTransaction<T, C extends pg.ClientBase>(
  client: C,
  work: (client: C) => Promise<T>,
  onBroken: (error: Error) => void = () => undefined,
): Promise<T> {
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: unknown) => {
      onBroken(rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError)));
    });
    throw error;
  }
}
