import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { EmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { migrate } from "../../src/db/migrator.js";
import { prepareJobQueues } from "../../src/jobs/kit/queue.js";
import { logger } from "../../src/logger.js";
import { DELIVERY_WAKE_QUEUE } from "../../src/modules/deliveries/delivery-wake-ups.js";
import { withDatabase } from "./urls.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A URL to the server's maintenance database, for creating and dropping databases. */
    adminDatabaseUrl: string;
    /** The migrated database each test file's database is copied from. */
    templateDatabase: string;
  }
}

/**
 * Starts one PostgreSQL for the whole run (embedded, unless TEST_DATABASE_URL names a server) and migrates a
 * template database once; `CREATE DATABASE ... TEMPLATE` then gives each test file its own copy in milliseconds.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const quiet = logger.child({});
  quiet.level = "silent";
  let embedded: EmbeddedPostgres | undefined;
  let dataDir: string | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-test-"));
    // As root the server runs as `postgres`, which must be able to enter the directory.
    await chmod(dataDir, 0o755);
    embedded = new EmbeddedPostgres({ dataDir, logger: quiet });
    adminUrl = await embedded.start();
  }
  const templateDatabase = `signalpost_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase}`);
  await admin.query(`CREATE DATABASE ${templateDatabase}`);
  await admin.end();
  await migrate(withDatabase(adminUrl, templateDatabase), quiet);
  // As every start-up does: pg-boss's schema and the delivery wake-up queue, which publishes store their jobs in.
  await prepareJobQueues(withDatabase(adminUrl, templateDatabase), [DELIVERY_WAKE_QUEUE]);

  project.provide("adminDatabaseUrl", adminUrl);
  project.provide("templateDatabase", templateDatabase);

  return async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
    await client.end();
    await embedded?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
