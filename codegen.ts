import type { CodegenConfig } from "@graphql-codegen/cli";

/**
 * Typed documents for the TypeScript client, from the printed schema (schema/schema.graphql) and the operations
 * kept in clients/operations. The output is committed: it is part of the client we ship. `npm run check` fails
 * when it is stale.
 */
const config: CodegenConfig = {
  schema: "schema/schema.graphql",
  documents: ["clients/operations/**/*.graphql"],
  ignoreNoDocuments: false,
  // ESM output (imports with .js extensions), as the rest of the project.
  emitLegacyCommonJSImports: false,
  generates: {
    "clients/typescript/generated/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: "string", JSON: "unknown" },
      },
    },
  },
};

export default config;
