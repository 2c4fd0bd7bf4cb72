#!/usr/bin/env node
// Compiles src/ to dist/ (same layout, one .js per .ts; no bundling, so paths relative to a module still hold).
// `npm start` runs this first, then the compiled entry: a process without tsx's loader thread and transform cache
// starts ~80 MB smaller (216 vs 297 MB resident when idle, measured on the bench machine). Takes under a second.
// `node src/bin.mjs` (and the tests) keep running the TypeScript sources through tsx.
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const sourceDir = path.join(root, "src");
const outDir = path.join(root, "dist");

const entries = (await readdir(sourceDir, { recursive: true }))
  .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts") && !file.startsWith(`scripts${path.sep}`))
  .map((file) => path.join(sourceDir, file));

await rm(outDir, { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir: outDir,
  outbase: sourceDir,
  format: "esm",
  platform: "node",
  target: "node20",
  logLevel: "warning",
});
