import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { OperatorError } from "../lib/errors.js";
import type { Logger } from "../logger.js";
import { inTransaction } from "./transaction.js";

/** Where `prisma/migrations/<timestamp>_<name>/migration.sql` live, relative to this file (src/db). */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

/**
 * The advisory lock key Prisma's own `migrate deploy` takes, so our migrator and Prisma's exclude each other too.
 */
const MIGRATION_LOCK_KEY = 72707369;

/** Raised when the database and the migration files disagree in a way only a person can resolve. */
export class MigrationError extends OperatorError {}

export interface MigrationFile {
  name: string;
  sql: string;
  /** SHA-256 of the file, hex: the checksum `_prisma_migrations` stores. */
  checksum: string;
}

interface AppliedMigration {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/** Reads the migration folders in name order (their timestamp prefix makes that the creation order). */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const folders = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const migrations: MigrationFile[] = [];
  for (const name of folders) {
    const file = path.join(dir, name, "migration.sql");
    if (!existsSync(file)) continue;
    const sql = await readFile(file, "utf8");
    migrations.push({ name, sql, checksum: createHash("sha256").update(sql).digest("hex") });
  }
  return migrations;
}

// The same table `prisma migrate deploy` creates, so either tool can take over from the other.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateResult {
  /** Migrations this call applied. */
  applied: string[];
  /** Every migration this release knows, applied now or before. */
  known: string[];
}

/**
 * Applies every pending migration, each in its own transaction, under a session advisory lock, so that several
 * instances starting at once apply each migration exactly once and all come up.
 * @throws MigrationError when an applied migration's file was edited, or an earlier migration failed half-way.
 */
export async function migrate(databaseUrl: string, logger: Logger, dir = MIGRATIONS_DIR): Promise<MigrateResult> {
  const files = await readMigrations(dir);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const { rows } = await client.query<AppliedMigration>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const applied = new Map(rows.map((row) => [row.migration_name, row]));
    checkHistory(files, applied, logger);

    const pending = files.filter((file) => !applied.has(file.name));
    for (const migration of pending) {
      await applyOne(client, migration);
      logger.info({ migration: migration.name }, "migration applied");
    }
    return { applied: pending.map((file) => file.name), known: files.map((file) => file.name) };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

function checkHistory(files: MigrationFile[], applied: Map<string, AppliedMigration>, logger: Logger): void {
  const known = new Set(files.map((file) => file.name));
  for (const row of applied.values()) {
    if (!row.finished_at) {
      throw new MigrationError(
        `Migration ${row.migration_name} started but never finished; fix the database by hand, then mark it rolled back in _prisma_migrations`,
      );
    }
    if (!known.has(row.migration_name)) {
      // A newer release may have applied it (rolling deploys): not fatal, but worth saying.
      logger.warn({ migration: row.migration_name }, "the database has a migration this release does not know");
    }
  }
  for (const file of files) {
    const row = applied.get(file.name);
    if (row && row.checksum !== file.checksum) {
      throw new MigrationError(
        `Migration ${file.name} was edited after it was applied (checksum mismatch); restore prisma/migrations/${file.name}/migration.sql and put the change in a new migration`,
      );
    }
  }
}

async function applyOne(client: pg.Client, migration: MigrationFile): Promise<void> {
  const id = randomUUID();
  try {
    await inTransaction(client, async () => {
      await client.query(migration.sql);
      await client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), now(), 1)`,
        [id, migration.checksum, migration.name],
      );
    });
  } catch (error) {
    throw new MigrationError(`Migration ${migration.name} failed and was rolled back: ${(error as Error).message}`);
  }
}

/** The names of the migrations applied and not rolled back, for readiness (another instance may roll one back). */
export async function appliedMigrationNames(db: pg.Pool): Promise<Set<string>> {
  const { rows } = await db.query<{ migration_name: string }>(
    `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  return new Set(rows.map((row) => String(row.migration_name)));
}
