import { parseArgs } from "node:util";
import { type App, ROLES, type Role, startApp } from "./app.js";
import { COMMANDS, commandUsage, overview, unknownMessage, wantsHelp } from "./commands/catalog.js";
import { keysCommand, UsageError } from "./commands/keys.js";
import { ConfigError, loadConfig } from "./config.js";
import { openDatabase } from "./db/database.js";
import { DataDirInUseError } from "./db/embedded-postgres.js";
import { MigrationError, migrate } from "./db/migrator.js";
import { PortInUseError } from "./http/server.js";
import { ValidationError } from "./lib/errors.js";
import { logger } from "./logger.js";
import { VERSION } from "./version.js";

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

async function migrateCommand(args: string[]): Promise<void> {
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

type Runner = (args: string[]) => Promise<void>;

/**
 * What runs each command (or `command subcommand`). Client commands load the SDK only when used, so `serve` starts
 * without it; help and usage come from ./commands/catalog.ts and never reach these.
 */
const RUNNERS: Record<string, () => Promise<Runner>> = {
  serve: async () => serve,
  migrate: async () => migrateCommand,
  "keys create": async () => (args) => keysCommand(["create", ...args]),
  "keys master": async () => (args) => keysCommand(["master", ...args]),
  "keys list": async () => (await import("./commands/api-keys.js")).listKeys,
  "keys revoke": async () => (await import("./commands/api-keys.js")).revokeKey,
  listen: async () => (await import("./commands/listen.js")).listenCommand,
  trigger: async () => (await import("./commands/trigger.js")).triggerCommand,
  tail: async () => (await import("./commands/tail.js")).tailCommand,
  events: async () => (await import("./commands/events.js")).eventsCommand,
  deliveries: async () => (await import("./commands/deliveries.js")).deliveriesCommand,
  endpoints: async () => (await import("./commands/endpoints.js")).endpointsCommand,
  "event-types": async () => (await import("./commands/event-types.js")).eventTypesCommand,
  agents: async () => (await import("./commands/agents.js")).agentsCommand,
  replay: async () => (await import("./commands/replay.js")).replayCommand,
};

const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

/** `signalpost help [command [subcommand]]`. @throws UsageError for a name that is not a command. */
function help(names: string[]): void {
  const [name, sub] = names;
  if (!name) {
    print(overview(VERSION));
    return;
  }
  const entry = COMMANDS[name];
  if (!entry) throw new UsageError(unknownMessage("command", name, Object.keys(COMMANDS)));
  if (sub && !entry.subcommands?.[sub])
    throw new UsageError(unknownMessage(`${name} subcommand`, sub, Object.keys(entry.subcommands ?? {})));
  print(commandUsage(name, sub));
}

/** The `signalpost` command line. */
export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let path = "";
  try {
    if (command === undefined || command === "-h" || command === "--help") return help([]);
    if (command === "help") return help(rest);
    if (command === "--version" || command === "-V" || command === "version") return print(VERSION);
    const entry = COMMANDS[command];
    if (!entry)
      throw new UsageError(
        unknownMessage(command.startsWith("-") ? "option" : "command", command, Object.keys(COMMANDS)),
      );
    path = command;
    let args = rest;
    if (entry.subcommands) {
      const [sub, ...subArgs] = rest;
      if (sub === undefined || sub === "-h" || sub === "--help") return print(commandUsage(command));
      if (!entry.subcommands[sub])
        throw new UsageError(unknownMessage(`${command} subcommand`, sub, Object.keys(entry.subcommands)));
      path = `${command} ${sub}`;
      if (wantsHelp(subArgs)) return print(commandUsage(command, sub));
      // `keys list` has its own runner; `endpoints list` goes to the group's, which reads the subcommand itself.
      args = RUNNERS[path] ? subArgs : rest;
    } else if (wantsHelp(rest)) return print(commandUsage(command));
    const load = RUNNERS[path] ?? RUNNERS[command];
    if (!load) throw new UsageError(unknownMessage("command", command, Object.keys(COMMANDS)));
    return await (await load())(args);
  } catch (error) {
    if (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS")) {
      fail(new UsageError(parseErrorMessage(error.message, path)));
    }
    fail(error);
  }
}

/** Node's parser messages, made one short line that says where to look. */
function parseErrorMessage(message: string, path: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  const first = unknown ? `unknown option '${unknown[1]}'` : (message.split(". ")[0] ?? message);
  return path ? `${first} (see: signalpost ${path} --help)` : first;
}
