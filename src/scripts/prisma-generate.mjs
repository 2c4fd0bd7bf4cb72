#!/usr/bin/env node
// Runs `prisma generate` offline. Prisma 7's CLI wants to download its native schema engine at start-up even for
// `generate`, which never uses it; pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file skips the download.
// Migrations do not go through Prisma's engine at all (see src/db/migrator.ts).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const prismaCli = require.resolve("prisma/build/index.js");
// The pothos generator is found on PATH, as it would be under `npm run`.
const binDir = fileURLToPath(new URL("../../node_modules/.bin", import.meta.url));
const env = {
  ...process.env,
  PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || fileURLToPath(import.meta.url),
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
};
const result = spawnSync(process.execPath, [prismaCli, "generate", ...process.argv.slice(2)], {
  stdio: "inherit",
  env,
});
process.exit(result.status ?? 1);
