import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CONFIGURATION_VARIABLES } from "../../src/config.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Read in src/ but not configuration: set by the system or a tool for its own use, never by an operator.
 * PATH (the shell's), VITEST (set by the test runner), PRISMA_SCHEMA_ENGINE_BINARY (the build script points Prisma
 * at a file so `generate` downloads nothing), NODE_ENV (only decides whether Pothos warns about unused Prisma queries).
 */
const NOT_CONFIGURATION = new Set(["PATH", "VITEST", "PRISMA_SCHEMA_ENGINE_BINARY", "NODE_ENV"]);

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return entry.name === "generated" ? [] : sourceFiles(full);
    return /\.(ts|mts|mjs|js)$/.test(entry.name) ? [full] : [];
  });
}

/** Every environment variable src/ reads: the config schema's, `env.X`/`env["X"]` anywhere, and any SIGNALPOST_*. */
function variablesReadInSource(): Set<string> {
  const names = new Set(CONFIGURATION_VARIABLES);
  for (const file of sourceFiles(path.join(ROOT, "src"))) {
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/\benv(?:\.|\[["'])([A-Z][A-Z0-9_]*)/g)) names.add(match[1] as string);
    for (const match of text.matchAll(/\b(SIGNALPOST_[A-Z0-9_]+)\b/g)) names.add(match[1] as string);
  }
  for (const name of NOT_CONFIGURATION) names.delete(name);
  return names;
}

/** The first column of the table in the README's "Configuration" section. */
function variablesInReadme(): Set<string> {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((part) => part.startsWith("Configuration\n")) ?? "";
  return new Set([...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)`/gm)].map((match) => match[1] as string));
}

describe("README Configuration table", () => {
  it("lists every environment variable src/ reads, and none that it does not", () => {
    const read = variablesReadInSource();
    const documented = variablesInReadme();
    expect(read.size).toBeGreaterThan(20);
    expect([...read].filter((name) => !documented.has(name)).sort()).toEqual([]);
    expect([...documented].filter((name) => !read.has(name)).sort()).toEqual([]);
  });
});
