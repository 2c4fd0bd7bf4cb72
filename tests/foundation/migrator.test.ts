import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, MigrationError, migrate, readMigrations } from "../../src/db/migrator.js";
import { logger } from "../../src/logger.js";
import { createDatabase, dropDatabase, type TestDatabase } from "../support/databases.js";

const created: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(created.splice(0).map((database) => dropDatabase(database.name)));
});

async function emptyDatabase(): Promise<TestDatabase> {
  const database = await createDatabase();
  created.push(database);
  return database;
}

async function query<Row extends pg.QueryResultRow>(url: string, sql: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** A copy of the real migrations folder that a test may edit or extend. */
async function migrationsCopy(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "signalpost-migrations-"));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

describe("migrator", () => {
  it("applies every migration once and records it the way prisma migrate does", async () => {
    const database = await emptyDatabase();
    const files = await readMigrations();
    const result = await migrate(database.url, logger);
    expect(result.applied).toEqual(files.map((file) => file.name));

    const rows = await query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      applied_steps_count: number;
    }>(
      database.url,
      `SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    expect(rows.map((row) => row.migration_name)).toEqual(files.map((file) => file.name));
    for (const row of rows) {
      const sql = await readFile(path.join(MIGRATIONS_DIR, row.migration_name, "migration.sql"));
      expect(row.checksum).toBe(createHash("sha256").update(sql).digest("hex"));
      expect(row.finished_at).toBeInstanceOf(Date);
    }

    const again = await migrate(database.url, logger);
    expect(again.applied).toEqual([]);
    expect(again.known).toEqual(files.map((file) => file.name));
  });

  it("applies each migration exactly once when several instances start together", async () => {
    const database = await emptyDatabase();
    const results = await Promise.all([1, 2, 3, 4].map(() => migrate(database.url, logger)));
    const appliedCounts = results.map((result) => result.applied.length).sort();
    const fileCount = (await readMigrations()).length;
    expect(appliedCounts).toEqual([0, 0, 0, fileCount]);
    const rows = await query<{ count: string }>(database.url, `SELECT count(*) FROM "_prisma_migrations"`);
    expect(Number(rows[0]?.count)).toBe(fileCount);
  });

  it("refuses to start when an applied migration's file was edited", async () => {
    const database = await emptyDatabase();
    const dir = await migrationsCopy();
    await migrate(database.url, logger, dir);
    const [first] = await readMigrations(dir);
    if (!first) throw new Error("no migrations");
    await writeFile(path.join(dir, first.name, "migration.sql"), `${first.sql}\n-- an innocent-looking edit\n`);

    const failure = migrate(database.url, logger, dir);
    await expect(failure).rejects.toBeInstanceOf(MigrationError);
    await expect(failure).rejects.toThrow(`Migration ${first.name} was edited after it was applied`);
  });

  it("rolls a failing migration back completely and records nothing", async () => {
    const database = await emptyDatabase();
    const dir = await migrationsCopy();
    const broken = path.join(dir, "29990101000000_broken");
    await mkdir(broken);
    await writeFile(
      path.join(broken, "migration.sql"),
      `CREATE TABLE "HalfDone" ("id" INTEGER);\nALTER TABLE "NoSuchTable" ADD COLUMN "x" INTEGER;\n`,
    );

    await expect(migrate(database.url, logger, dir)).rejects.toThrow(
      /Migration 29990101000000_broken failed and was rolled back: .*NoSuchTable/,
    );
    const halfDone = await query(database.url, `SELECT 1 FROM information_schema.tables WHERE table_name = 'HalfDone'`);
    expect(halfDone).toHaveLength(0);
    const recorded = await query<{ migration_name: string }>(
      database.url,
      `SELECT migration_name FROM "_prisma_migrations"`,
    );
    expect(recorded.map((row) => row.migration_name)).not.toContain("29990101000000_broken");
    // The migrations before it stay applied.
    expect(recorded.length).toBe((await readMigrations()).length);
  });

  it("refuses to go on after a migration another tool left unfinished", async () => {
    const database = await emptyDatabase();
    await migrate(database.url, logger);
    await query(
      database.url,
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name) VALUES ('x', 'y', '29990101000000_crashed')`,
    );
    await expect(migrate(database.url, logger)).rejects.toThrow(
      "Migration 29990101000000_crashed started but never finished",
    );
  });
});
