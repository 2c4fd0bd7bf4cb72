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
 * The pool Prisma runs on, shared with the places that speak SQL directly. Where each is used, and why:
 * - Prisma is the default for every read and write (services, schema resolvers through @pothos/plugin-prisma).
 * - SQL is kept where it was measured to matter or where Prisma cannot say it, and then it lives in the domain's
 *   `*.store.ts` beside its service, one function per statement with named, typed inputs and rows checked where they
 *   enter: publishing (events/events.store.ts), inbound acceptance and executions (agents/inbound.store.ts), delivery
 *   claims and attempts (deliveries/delivery-store.ts), the per-request API-key lookup (api-keys/api-keys.store.ts),
 *   the console feed's reads (console/console.store.ts), retention's batched deletes (retention/retention.store.ts),
 *   versioned event types and name checks (event-types/event-types.store.ts), start-up header sealing
 *   (endpoints/endpoints.store.ts). Console events have one writer, console/console-events.ts insertConsoleEvents
 *   (and its SQL fragment for the hot paths' single statements).
 * - Infrastructure SQL stays here in src/db/: transactions (transaction.ts: withTransaction), named parameters and
 *   named prepared statements (prepared.ts), LISTEN/NOTIFY (listen.ts, notify.ts), the shared rate-limit windows
 *   (shared-window.ts), secret masks (secret-masks.ts), the migrator and readiness's migration check (migrator.ts),
 *   database creation (database.ts). pg-boss has its own pool (jobs/kit/queue.ts).
 * `grep -rl "pool\.\|client\.query" src` lists them.
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
