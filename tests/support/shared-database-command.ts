// A one-shot command that holds the shared database until it is stopped: `withSharedDatabase` with work that never
// ends, so a test can send Ctrl-C at a moment it chooses (tests/recovery/ctrl-c.test.ts). Prints "working" once the
// database is open.
import { withSharedDatabase } from "../../src/commands/shared-database.js";
import { loadConfig } from "../../src/config.js";

await withSharedDatabase(loadConfig(), async () => {
  process.stdout.write("working\n");
  await new Promise(() => undefined);
});
