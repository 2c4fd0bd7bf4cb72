/**
 * The breaking-change check: compares schema/schema.graphql with the same file on the base branch (main) using
 * @graphql-inspector/core, and exits 1 on a breaking change that schema/acknowledged-breaking-changes.json does not
 * list. Dangerous changes are printed, not failed.
 *
 *   tsx src/scripts/schema-breaking.ts                          check (npm run check:breaking)
 *   tsx src/scripts/schema-breaking.ts --acknowledge "reason"   list every current breaking change as acknowledged
 *
 * The base is SCHEMA_BASE_REF when set, else the first of `main` and `origin/main` that git knows, and the file is
 * read at the merge base of HEAD and that branch (the branch's own changes, not what main gained since). A checkout
 * with neither (a shallow CI clone of main itself) compares with HEAD's own copy of the file, so the check passes
 * there; on main the merge base is HEAD and it passes too.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Change, CriticalityLevel, diff } from "@graphql-inspector/core";
import { buildSchema } from "graphql";

const SCHEMA_PATH = "schema/schema.graphql";
const root = fileURLToPath(new URL("../../", import.meta.url));
const acknowledgedFile = fileURLToPath(new URL("../../schema/acknowledged-breaking-changes.json", import.meta.url));

/** One acknowledged breaking change: the change's type and path identify it; the reason is for the reviewer. */
interface Acknowledged {
  type: string;
  path: string;
  message: string;
  reason: string;
}

function git(args: string[]): string | null {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return null;
  }
}

function baseRef(): string {
  const chosen = process.env.SCHEMA_BASE_REF;
  if (chosen) return chosen;
  for (const candidate of ["main", "origin/main"])
    if (git(["rev-parse", "--verify", "--quiet", `${candidate}^{commit}`]) !== null) return candidate;
  return "HEAD";
}

function keyOf(change: { type: string; path?: string }): string {
  return `${change.type} ${change.path ?? ""}`;
}

function readAcknowledged(): Acknowledged[] {
  if (!existsSync(acknowledgedFile)) return [];
  return JSON.parse(readFileSync(acknowledgedFile, "utf8")) as Acknowledged[];
}

// The branch's own changes: compared with where it left main (the merge base), so that what main gained since is
// not read as this branch taking it away. On main itself the merge base is HEAD.
const base = baseRef();
const ref = git(["merge-base", "HEAD", base])?.trim() || base;
const label = ref === base ? base : `${base} (merge base ${ref.slice(0, 8)})`;
const before = git(["show", `${ref}:${SCHEMA_PATH}`]);
if (before === null) {
  process.stdout.write(`no ${SCHEMA_PATH} at ${label}: nothing to compare with\n`);
  process.exit(0);
}
const changes: Change[] = await diff(
  buildSchema(before),
  buildSchema(readFileSync(new URL(`../../${SCHEMA_PATH}`, import.meta.url), "utf8")),
);
const breaking = changes.filter((change) => change.criticality.level === CriticalityLevel.Breaking);
const dangerous = changes.filter((change) => change.criticality.level === CriticalityLevel.Dangerous);

if (process.argv.includes("--acknowledge")) {
  const reasonIndex = process.argv.indexOf("--acknowledge") + 1;
  const reason = process.argv[reasonIndex] ?? "";
  if (!reason.trim()) {
    process.stderr.write('say why: npm run schema:acknowledge -- "global ids replace uuids (issue 17)"\n');
    process.exit(2);
  }
  const kept = readAcknowledged();
  const known = new Set(kept.map(keyOf));
  const added = breaking
    .filter((change) => !known.has(keyOf(change)))
    .map((change) => ({ type: change.type, path: change.path ?? "", message: change.message, reason }));
  writeFileSync(acknowledgedFile, `${JSON.stringify([...kept, ...added], null, 2)}\n`);
  process.stdout.write(`acknowledged ${added.length} breaking change(s) against ${label} in ${acknowledgedFile}\n`);
  process.exit(0);
}

const acknowledged = new Set(readAcknowledged().map(keyOf));
const unacknowledged = breaking.filter((change) => !acknowledged.has(keyOf(change)));
for (const change of dangerous) process.stdout.write(`dangerous: ${change.message}\n`);
for (const change of breaking.filter((change) => acknowledged.has(keyOf(change))))
  process.stdout.write(`breaking, acknowledged: ${change.message}\n`);
if (unacknowledged.length > 0) {
  process.stderr.write(`${unacknowledged.length} breaking change(s) to the schema since ${label}:\n`);
  for (const change of unacknowledged)
    process.stderr.write(`  ${change.type} ${change.path ?? ""}: ${change.message}\n`);
  process.stderr.write(
    'If they are intended, acknowledge them (and commit the file): npm run schema:acknowledge -- "why"\n',
  );
  process.exit(1);
}
process.stdout.write(
  `no unacknowledged breaking changes since ${label} (${changes.length} change(s), ${breaking.length} breaking)\n`,
);
