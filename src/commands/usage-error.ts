/**
 * The command line was wrong (an unknown option, a missing argument, a bad value): the CLI prints the message as one
 * line and exits 2. Kept in a module of its own so that every command can throw it without loading another command's
 * dependencies (the database, the server).
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
