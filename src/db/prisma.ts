import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.js";

/**
 * The process's Prisma client. Modules import it directly (never through the GraphQL context, which slows type
 * checking); it is assigned by `connectPrisma` during start-up, before any request or job can run, because the
 * database URL (embedded PostgreSQL's port) is only known then. ESM live bindings make the assignment visible to
 * every importer.
 */
export let prisma: PrismaClient;

/** Creates the shared client over a `pg` pool of at most `poolSize` connections. */
export function connectPrisma(databaseUrl: string, poolSize = 10): PrismaClient {
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl, max: poolSize }) });
  return prisma;
}

/** Closes the shared client's pool; safe to call when it was never connected. */
export async function disconnectPrisma(): Promise<void> {
  await prisma?.$disconnect();
}
