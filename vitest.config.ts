import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module) builds. Node, and so our dependencies, load the CJS one; Vite
    // would hand our own files the ESM one, and `instanceof GraphQLError` would then fail across the two copies.
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    include: ["tests/**/*.test.ts"],
    // One embedded PostgreSQL for the whole run and a migrated template database (or TEST_DATABASE_URL).
    globalSetup: ["tests/support/global-setup.ts"],
    // A fresh database, copied from the template, for each test file.
    setupFiles: ["tests/support/database-per-file.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more parallel files only queue on PostgreSQL and the CPU.
    maxWorkers: 2,
  },
});
