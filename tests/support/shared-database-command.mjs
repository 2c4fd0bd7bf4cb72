// Runs shared-database-command.ts in this process through tsx's loader (as src/bin.mjs runs the CLI), so that a signal
// reaches the command itself rather than a wrapper process that relays it.
import { register } from "tsx/esm/api";

register();
await import("./shared-database-command.ts");
