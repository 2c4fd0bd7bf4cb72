import { parseArgs } from "node:util";
import { type App, ROLES, type Role, startApp } from "./app.js";
import { keysCommand, UsageError } from "./commands/keys.js";
import { ConfigError, loadConfig } from "./config.js";
import { openDatabase } from "./db/database.js";
import { DataDirInUseError } from "./db/embedded-postgres.js";
import { MigrationError, migrate } from "./db/migrator.js";
import { PortInUseError } from "./http/server.js";
import { ValidationError } from "./lib/errors.js";
import { logger } from "./logger.js";

const USAGE = `Usage: signalpost <command> [options]

Commands:
  serve [--role all|api|worker]   Run Signalpost (default role: all)
  migrate                         Apply pending database migrations and exit
  keys create|master              Create an API key, or a master key (see: signalpost keys)

Commands that talk to a running server (--url or SIGNALPOST_URL, --key or SIGNALPOST_API_KEY, --json):
  listen --agent <id> --forward <url>          Re-POST an agent's relayed webhooks to a local URL
  events publish <type> --data <json|@file>    Publish an event
  deliveries list [--status S] [--endpoint id] List recent deliveries
  deliveries retry <id>                        Send a delivery again now
  endpoints recover --since <time> [--endpoint id] [--dry-run]
                                               Send failed deliveries again

  replay <file.ndjson> --to <url> [--secret whsec_...] [--concurrency N] [--json] [--dry-run]
                                               POST exported or saved webhooks again (no server needed)
  help                            Show this text

Configuration comes from environment variables; see README.md.`;

/** Exit codes: 0 fine, 1 runtime failure, 2 bad usage or configuration. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Prints one line saying what went wrong and what to do; details go to the debug log, never a stack trace. */
function fail(error: unknown): never {
  const usage = error instanceof ConfigError || error instanceof UsageError || error instanceof ValidationError;
  const expected =
    usage || error instanceof MigrationError || error instanceof PortInUseError || error instanceof DataDirInUseError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`signalpost: ${error instanceof ConfigError ? "invalid configuration: " : ""}${message}\n`);
  if (!expected) logger.debug({ err: error }, "start-up failure");
  process.exit(usage ? EXIT_USAGE : EXIT_FAILURE);
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { role: { type: "string", default: "all" } }, strict: true });
  const role = values.role as Role;
  if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(", ")} (got "${values.role}")`);
  const config = loadConfig();
  logger.level = config.logLevel;
  const app = await startApp(config, role, logger);
  handleSignals(app, config.shutdownTimeoutMs);
}

/**
 * First SIGINT/SIGTERM: graceful stop, exit 0. A second one while stopping: exit at once. A fault the process cannot
 * recover from (the embedded PostgreSQL could not be restarted): stop what can be stopped, print one line, exit 1,
 * so that an outer supervisor restarts it.
 */
function handleSignals(app: App, timeoutMs: number): void {
  let stopping = false;
  void app.fatal.then((error) => {
    if (stopping) return;
    stopping = true;
    const exit = () => {
      process.stderr.write(`signalpost: ${error.message}\n`);
      process.exit(EXIT_FAILURE);
    };
    app.stop(Math.min(timeoutMs, 5_000)).then(exit, exit);
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting without finishing the shutdown");
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    logger.info({ signal, role: app.role }, "shutting down");
    app
      .stop(timeoutMs)
      .then(() => {
        logger.info("stopped");
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(EXIT_FAILURE);
      });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

async function migrateCommand(): Promise<void> {
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

/** The `signalpost` command line. */
export async function main(argv: string[]): Promise<void> {
  const [command = "serve", ...rest] = argv;
  try {
    if (command === "serve") return await serve(rest);
    if (command === "migrate") return await migrateCommand();
    if (command === "keys") return await keysCommand(rest);
    // Client commands load the SDK only when used, so `serve` starts without it.
    if (command === "listen") return await (await import("./commands/listen.js")).listenCommand(rest);
    if (command === "events") return await (await import("./commands/events.js")).eventsCommand(rest);
    if (command === "deliveries") return await (await import("./commands/deliveries.js")).deliveriesCommand(rest);
    if (command === "endpoints") return await (await import("./commands/endpoints.js")).endpointsCommand(rest);
    if (command === "replay") return await (await import("./commands/replay.js")).replayCommand(rest);
    if (command === "help" || command === "--help" || command === "-h") {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  } catch (error) {
    if (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS")) {
      fail(new UsageError(error.message));
    }
    fail(error);
  }
}
