import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../generated/prisma/client.js";

/**
 * The process's Prisma client and the `pg` pool under it. Modules import them directly (never through the GraphQL
 * context, which slows type checking). They are assigned by `connectPrisma` during start-up, before any request or
 * job can run, because the database URL (the embedded PostgreSQL's port) is only known then; ESM live bindings make
 * the assignment visible to every importer.
 */
export let prisma: PrismaClient;

/**
 * The pool Prisma runs on, shared with the places that speak SQL directly. Prisma is the default for every read and
 * write. SQL (through this pool, as named prepared statements, src/db/prepared.ts) is kept where it was measured to
 * matter or where Prisma cannot say it: the publish and delivery hot paths (events.service.ts, delivery-store.ts),
 * inbound acceptance and its group commit (agents/acceptance.ts, inbound.ts, executions.service.ts), the console
 * feed's writer and cursor reads (console/), retention's batched deletes, the shared rate-limit windows
 * (db/shared-window.ts), LISTEN/NOTIFY (db/listen.ts, db/notify.ts), readiness, the migrator, and a few single
 * statements Prisma cannot express (api keys, event types, endpoint headers, secret masks). pg-boss has its own pool
 * (jobs/queue.ts). `grep -rl "pool\.\|client\.query" src` lists them; issue 15 gathers them into one store per
 * domain.
 */
export let pool: pg.Pool;

/** Creates the shared pool (at most `poolSize` connections) and the Prisma client over it. */
export function connectPrisma(databaseUrl: string, poolSize = 10): PrismaClient {
  pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on("error", () => undefined);
  // The pool listens for errors only on idle clients. A client checked out for a transaction (publishing, accepting
  // a webhook) when the server dies or terminates it emits 'error' with no listener, which would crash the process;
  // the query in flight rejects anyway, and the pool discards the client when it is released with that error.
  pool.on("connect", (client) => client.on("error", () => undefined));
  prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return prisma;
}

/** Closes the shared client and its pool; safe to call when they were never connected. */
export async function disconnectPrisma(): Promise<void> {
  await prisma?.$disconnect();
  await pool?.end().catch(() => undefined);
}
