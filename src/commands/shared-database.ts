import type { Config } from "../config.js";
import { type Database, openDatabase } from "../db/database.js";
import { logger } from "../logger.js";

/** Exit codes for a command stopped by a signal, as shells report them (128 + the signal's number). */
const SIGNAL_EXIT_CODES: Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Runs a one-shot command (migrate, keys create) on the database, and closes it however the command ends, Ctrl-C
 * included. A command that started the embedded PostgreSQL itself (no server was running) must stop it: PostgreSQL
 * runs in its own process group, so the terminal's SIGINT never reaches it, and without this it was left running.
 * A signal that arrives while the database is still starting waits for the start to finish, then stops it.
 */
export async function withSharedDatabase<T>(config: Config, work: (database: Database) => Promise<T>): Promise<T> {
  const opening = openDatabase(config, logger, "share");
  // Closed once, whether the command ends first or the signal does (a signal can arrive while it is closing).
  let closing: Promise<void> | undefined;
  const close = (database: Database) => {
    closing ??= database.close();
    return closing;
  };
  // A second Ctrl-C while PostgreSQL stops (a fast shutdown, well under a second) is ignored rather than left to
  // Node's default, which would exit at once and leave the cluster running after all.
  let stopping = false;
  const onSignal = (signal: "SIGINT" | "SIGTERM") => {
    if (stopping) return;
    stopping = true;
    const exit = () => process.exit(SIGNAL_EXIT_CODES[signal]);
    opening.then(close).then(exit, exit);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const database = await opening;
    try {
      return await work(database);
    } finally {
      await close(database);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
