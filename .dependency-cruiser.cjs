/**
 * Layering rules checked by `npm run check:layers` (dependency-cruiser).
 *
 * - Folders (src/modules/<domain>, src/http, src/jobs, src/db, src/lib, src/graphql, src/commands) never import
 *   each other in a circle: a folder cycle means neither side can be read, tested or moved on its own. Nor do files.
 * - Services (`*.service.ts` and every other non-schema file of a domain) hold the rules: they know nothing of
 *   GraphQL (no graphql, graphql-yoga, @pothos, src/graphql, the builder or a schema file) and nothing of the
 *   delivery worker (the dispatcher) or the job definitions; the GraphQL layer and the worker call them, not the
 *   reverse. Their expected failures are the AppErrors of src/lib/errors.ts, which the GraphQL layer maps.
 *
 * A folder is every directory under src/ with the files directly in it; the files at the top of src/ (app, cli,
 * builder, schema, config, logger) wire the folders together and are not a folder of their own.
 */
module.exports = {
  forbidden: [
    {
      name: "no-folder-cycles",
      severity: "error",
      comment: "Folders must not import each other in a circle; move the shared piece to the folder both can import.",
      scope: "folder",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-module-cycles",
      severity: "error",
      comment: "Files must not import each other in a circle either (this also covers the files at the top of src/).",
      from: {},
      to: { circular: true },
    },
    {
      name: "services-know-no-graphql",
      severity: "error",
      comment:
        "Services hold the rules and know nothing of GraphQL: throw the domain errors of src/lib/errors.ts, " +
        "the GraphQL layer maps them.",
      from: { path: "^src/modules/", pathNot: "\\.schema\\.ts$" },
      to: {
        path: [
          "^src/graphql/",
          "^src/builder\\.ts$",
          "^src/schema\\.ts$",
          "\\.schema\\.ts$",
          "(^|/)node_modules/(graphql|graphql-yoga|graphql-ws|@graphql-yoga/[^/]+|@pothos/[^/]+)/",
        ],
      },
    },
    {
      name: "services-know-no-worker",
      severity: "error",
      comment:
        "Services know nothing of the delivery worker or of the job definitions (src/jobs/*.job.ts); the worker and " +
        "the jobs call services, not the reverse. Producers enqueue through the job kit (src/jobs/kit/).",
      from: { path: "^src/modules/", pathNot: ["\\.schema\\.ts$", "^src/modules/deliveries/dispatcher\\.ts$"] },
      to: { path: ["^src/modules/deliveries/dispatcher\\.ts$", "^src/jobs/[^/]+$"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/generated/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".d.ts"],
      mainFields: ["module", "main", "types", "typings"],
    },
  },
};
