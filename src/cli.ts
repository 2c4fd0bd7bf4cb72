import { COMMANDS, commandUsage, overview, unknownMessage, wantsHelp } from "./commands/catalog.js";
import { UsageError } from "./commands/usage-error.js";
import { ConfigError } from "./config.js";
import { OperatorError, ValidationError } from "./lib/errors.js";
import { logger } from "./logger.js";
import { VERSION } from "./version.js";

/** Exit codes: 0 fine, 1 runtime failure, 2 bad usage or configuration. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Prints one line saying what went wrong and what to do; details go to the debug log, never a stack trace. */
function fail(error: unknown): never {
  const usage = error instanceof ConfigError || error instanceof UsageError || error instanceof ValidationError;
  const expected = usage || error instanceof OperatorError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`signalpost: ${error instanceof ConfigError ? "invalid configuration: " : ""}${message}\n`);
  if (!expected) logger.debug({ err: error }, "start-up failure");
  process.exit(usage ? EXIT_USAGE : EXIT_FAILURE);
}

type Runner = (args: string[]) => Promise<void>;

/**
 * What runs each command (or `command subcommand`), each loaded only when used: `serve` starts without the SDK, and a
 * client command, `--version` or `--help` without the server and database modules (measured under tsx on our busy
 * 2-core machine: `signalpost --version` took 4.8 s when they all loaded, 1.5 s now). Help and usage come from
 * ./commands/catalog.ts and never reach these.
 */
const RUNNERS: Record<string, () => Promise<Runner>> = {
  serve: async () => (await import("./commands/serve.js")).serveCommand,
  migrate: async () => (await import("./commands/migrate.js")).migrateCommand,
  "keys create": async () => {
    const { keysCommand } = await import("./commands/keys.js");
    return (args) => keysCommand(["create", ...args]);
  },
  "keys master": async () => {
    const { keysCommand } = await import("./commands/keys.js");
    return (args) => keysCommand(["master", ...args]);
  },
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
