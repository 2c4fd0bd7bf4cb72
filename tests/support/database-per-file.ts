import { afterAll, inject } from "vitest";
import { connectPrisma, disconnectPrisma } from "../../src/db/prisma.js";
import { createDatabase, dropDatabase } from "./databases.js";

// Each test file gets its own database copied from the migrated template, so files run in parallel without
// seeing each other's rows, and the shared Prisma client points at it.
const database = await createDatabase({ template: inject("templateDatabase") });
process.env.DATABASE_URL = database.url;
connectPrisma(database.url, 5);

afterAll(async () => {
  await disconnectPrisma();
  await dropDatabase(database.name);
});
