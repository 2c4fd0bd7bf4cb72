import pg from "pg";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { type EmbeddedMode, EmbeddedPostgres } from "./embedded-postgres.js";

/** `up`, `restarting` (the embedded server died and is being brought back), or `failed` (it could not be). */
export type DatabaseState = "up" | "restarting" | "failed";

/** The database the process talks to, and how to let go of it. */
export interface Database {
  url: string;
  /** The embedded server, when this process started one. */
  embedded: EmbeddedPostgres | undefined;
  /** Always `up` with DATABASE_URL: an external server's outages are survived by retrying, not managed by us. */
  state(): DatabaseState;
  /** Resolves (never rejects) with the reason once the database cannot be brought back: the process should exit. */
  fatal: Promise<Error>;
  close(): Promise<void>;
}

const APP_DATABASE = "signalpost";

/**
 * Uses DATABASE_URL when set (and never starts a server); otherwise starts (or, for command-line tools in `share`
 * mode, joins) the embedded PostgreSQL in the data directory and makes sure the `signalpost` database exists in it.
 */
export async function openDatabase(config: Config, logger: Logger, mode: EmbeddedMode = "own"): Promise<Database> {
  if (config.databaseUrl) {
    await assertReachable(config.databaseUrl);
    return {
      url: config.databaseUrl,
      embedded: undefined,
      state: () => "up",
      fatal: new Promise(() => undefined),
      close: async () => undefined,
    };
  }
  const embedded = new EmbeddedPostgres({ dataDir: config.dataDir, logger });
  let state: DatabaseState = "up";
  let giveUp: (error: Error) => void = () => undefined;
  const fatal = new Promise<Error>((resolve) => {
    giveUp = resolve;
  });
  // Only the server that owns the cluster supervises it; a command-line tool sharing it leaves that to the server.
  if (mode === "own") {
    embedded.supervise({
      down: () => {
        state = "restarting";
      },
      up: () => {
        state = "up";
      },
      gaveUp: (error) => {
        state = "failed";
        giveUp(error);
      },
    });
  }
  try {
    await embedded.start(mode);
    await ensureDatabase(embedded.url("postgres"), APP_DATABASE);
  } catch (error) {
    await embedded.stop();
    throw error;
  }
  return { url: embedded.url(APP_DATABASE), embedded, state: () => state, fatal, close: () => embedded.stop() };
}

/** Creates a database unless it exists (CREATE DATABASE has no IF NOT EXISTS). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } catch (error) {
    // Two instances may race to create it; the loser sees a duplicate, which is fine.
    if ((error as { code?: string }).code !== "42P04") throw error;
  } finally {
    await client.end();
  }
}

async function assertReachable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    const host = new URL(url).host;
    throw new Error(`cannot reach the database at ${host} (DATABASE_URL): ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
