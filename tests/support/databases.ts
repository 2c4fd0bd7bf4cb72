import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { withDatabase } from "./urls.js";

export interface TestDatabase {
  name: string;
  url: string;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates a database on the test server: a copy of `template` when given, empty (unmigrated) otherwise. */
export async function createDatabase(options: { template?: string } = {}): Promise<TestDatabase> {
  const name = `test_${randomBytes(6).toString("hex")}`;
  await admin((client) =>
    client.query(
      `CREATE DATABASE ${name}${options.template ? ` TEMPLATE ${client.escapeIdentifier(options.template)}` : ""}`,
    ),
  );
  return { name, url: withDatabase(inject("adminDatabaseUrl"), name) };
}

/** Drops a test database, disconnecting whoever is still attached. */
export async function dropDatabase(name: string): Promise<void> {
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`));
}
