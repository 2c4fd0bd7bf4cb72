import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { openDatabase } from "../db/database.js";
import { migrate } from "../db/migrator.js";
import { logger } from "../logger.js";

/** `signalpost migrate`: applies pending migrations to DATABASE_URL or the embedded database, and exits. */
export async function migrateCommand(args: string[]): Promise<void> {
  parseArgs({ args, options: {}, strict: true });
  const config = loadConfig();
  logger.level = config.logLevel;
  const database = await openDatabase(config, logger, "share");
  try {
    const result = await migrate(database.url, logger);
    process.stdout.write(
      result.applied.length
        ? `Applied ${result.applied.length} migration(s): ${result.applied.join(", ")}\n`
        : `Database is up to date (${result.known.length} migration(s) applied)\n`,
    );
  } finally {
    await database.close();
  }
}
