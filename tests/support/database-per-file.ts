import { afterAll, inject } from "vitest";
import { wireApp } from "../../src/app-context.js";
import { connectPrisma, disconnectPrisma } from "../../src/db/prisma.js";
import { parseMasterKeys } from "../../src/lib/master-key.js";
import { logger } from "../../src/logger.js";
import { createDatabase, dropDatabase } from "./databases.js";
import { TEST_MASTER_KEY } from "./master-key.js";

// Each test file gets its own database copied from the migrated template, so files run in parallel without
// seeing each other's rows, and the shared Prisma client points at it.
const database = await createDatabase({ template: inject("templateDatabase") });
process.env.DATABASE_URL = database.url;
connectPrisma(database.url, 5);
// What start-up does for a server process: a master keyring and authentication settings.
await wireApp({
  databaseUrl: database.url,
  logger,
  keyring: parseMasterKeys(TEST_MASTER_KEY),
  authentication: { sessionTtlSeconds: 3_600 },
});

afterAll(async () => {
  await disconnectPrisma();
  await dropDatabase(database.name);
});
