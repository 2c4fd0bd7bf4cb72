import { parseArgs } from "node:util";
import { type App, ROLES, type Role, startApp } from "../app.js";
import { loadConfig } from "../config.js";
import { logger } from "../logger.js";
import { UsageError } from "./usage-error.js";

/** Exit code for a fault the process cannot recover from (see handleSignals). */
const EXIT_FAILURE = 1;

/** `signalpost serve [--role all|api|worker]`: runs until a signal stops it. */
export async function serveCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { role: { type: "string", default: "all" } }, strict: true });
  const role = values.role as Role;
  if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(", ")} (got "${values.role}")`);
  const config = loadConfig();
  logger.level = config.logLevel;
  const app = await startApp(config, role, logger);
  handleSignals(app, config.shutdownTimeoutMs);
}

/** The signals that stop the process gracefully: Ctrl-C, a supervisor's stop, and the terminal closing. */
const STOP_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
/**
 * A repeat within this long is the same stop, not a second one: `npm start` forwards the terminal's Ctrl-C to its
 * child, which the terminal has already signalled (the whole process group gets it), so one Ctrl-C arrives twice,
 * milliseconds apart. A person pressing Ctrl-C again takes longer.
 */
const SAME_STOP_MS = 500;

/**
 * First SIGINT/SIGTERM/SIGHUP: graceful stop, exit 0. Another one while stopping (after SAME_STOP_MS): exit at once.
 * A fault the process cannot recover from (the embedded PostgreSQL could not be restarted): stop what can be
 * stopped, print one line, exit 1, so that an outer supervisor restarts it.
 */
function handleSignals(app: App, timeoutMs: number): void {
  let stoppingSince: number | undefined;
  void app.fatal.then((error) => {
    if (stoppingSince !== undefined) return;
    stoppingSince = Date.now();
    const exit = () => {
      process.stderr.write(`signalpost: ${error.message}\n`);
      process.exit(EXIT_FAILURE);
    };
    app.stop(Math.min(timeoutMs, 5_000)).then(exit, exit);
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < SAME_STOP_MS) return;
      logger.warn({ signal }, "second signal: exiting without finishing the shutdown");
      process.exit(EXIT_FAILURE);
    }
    stoppingSince = Date.now();
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
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
}
