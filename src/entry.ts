// The process entry point. `npm start` runs its compiled form (dist/entry.js, see src/scripts/build.mjs);
// src/bin.mjs runs it from source through tsx.
import { main } from "./cli.js";

await main(process.argv.slice(2));
