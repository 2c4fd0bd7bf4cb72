import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { migrate } from "../db/migrator.js";
import { connectPrisma, disconnectPrisma } from "../db/prisma.js";
import { logger } from "../logger.js";
import { prepareDeliveryQueue } from "../modules/deliveries/prepare-delivery-queue.js";
import { withSharedDatabase } from "./shared-database.js";

/** `signalpost migrate`: applies pending migrations to DATABASE_URL or the embedded database, and exits. */
export async function migrateCommand(args: string[]): Promise<void> {
  parseArgs({ args, options: {}, strict: true });
  const config = loadConfig();
  logger.level = config.logLevel;
  const result = await withSharedDatabase(config, async (database) => {
    const migrated = await migrate(database.url, logger);
    // Producers store jobs on their own connection: the queues must exist before anything publishes.
    connectPrisma(database.url, 2);
    try {
      await prepareDeliveryQueue(database.url);
    } finally {
      await disconnectPrisma();
    }
    return migrated;
  });
  process.stdout.write(
    result.applied.length
      ? `Applied ${result.applied.length} migration(s): ${result.applied.join(", ")}\n`
      : `Database is up to date (${result.known.length} migration(s) applied)\n`,
  );
}
