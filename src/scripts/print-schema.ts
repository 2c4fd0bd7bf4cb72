/**
 * Prints the schema as sorted SDL to schema/schema.graphql (the file codegen and reviewers read).
 * With --check, writes nothing and exits 1 when the file is stale, so CI catches a forgotten `npm run schema:print`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { lexicographicSortSchema, printSchema } from "graphql";
import { schema } from "../schema.js";

const target = fileURLToPath(new URL("../../schema/schema.graphql", import.meta.url));
const printed = `${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(target, "utf8");
  } catch {
    // A missing file is stale too.
  }
  if (current !== printed) {
    process.stderr.write("schema/schema.graphql is stale: run `npm run schema:print` and commit the result\n");
    process.exit(1);
  }
  process.stdout.write("schema/schema.graphql is up to date\n");
} else {
  writeFileSync(target, printed);
  process.stdout.write(`wrote ${target}\n`);
}
