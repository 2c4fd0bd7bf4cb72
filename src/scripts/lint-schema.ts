/**
 * The schema lint (npm run lint:schema, part of npm run check): graphql-eslint's schema rules, through ESLint's Node
 * API, on the printed schema. Every type, field, argument, input field and enum value must have a description (require-description),
 * written as a block string, and starting with a capital letter or a backtick (our own check: graphql-eslint has none
 * for capitals). Exits 1 with the list when something is missing.
 *
 * With --count, prints how many are missing per kind and exits 0 (for tracking progress, never in CI).
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import graphqlPlugin from "@graphql-eslint/eslint-plugin";
import { ESLint, type Linter } from "eslint";
import { buildSchema, isEnumType, isInputObjectType, isInterfaceType, isObjectType } from "graphql";

const root = fileURLToPath(new URL("../../", import.meta.url));
const SCHEMA_FILE = "schema/schema.graphql";

const config: Linter.Config[] = [
  {
    files: ["**/*.graphql"],
    languageOptions: { parser: graphqlPlugin.parser, parserOptions: { graphQLConfig: { schema: SCHEMA_FILE } } },
    plugins: { "@graphql-eslint": graphqlPlugin as never },
    rules: {
      "@graphql-eslint/require-description": [
        "error",
        {
          types: true,
          rootField: true,
          FieldDefinition: true,
          InputValueDefinition: true,
          EnumValueDefinition: true,
          DirectiveDefinition: true,
        },
      ],
      "@graphql-eslint/description-style": ["error", { style: "block" }],
    },
  },
];

const eslint = new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: config });
const [result] = await eslint.lintFiles([SCHEMA_FILE]);
const problems = (result?.messages ?? []).map((message) => `${SCHEMA_FILE}:${message.line} ${message.message}`);

// Descriptions start with a capital letter (or a backtick, for one that starts with a name).
const schema = buildSchema(readFileSync(new URL(`../../${SCHEMA_FILE}`, import.meta.url), "utf8"));
const described: { where: string; description: string | null | undefined }[] = [];
for (const type of Object.values(schema.getTypeMap())) {
  if (type.name.startsWith("__")) continue;
  described.push({ where: type.name, description: type.description });
  if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type))
    for (const field of Object.values(type.getFields())) {
      described.push({ where: `${type.name}.${field.name}`, description: field.description });
      for (const arg of "args" in field ? field.args : [])
        described.push({ where: `${type.name}.${field.name}(${arg.name})`, description: arg.description });
    }
  if (isEnumType(type))
    for (const value of type.getValues())
      described.push({ where: `${type.name}.${value.name}`, description: value.description });
}
for (const { where, description } of described)
  if (description && !/^[A-Z0-9`"'(]/.test(description))
    problems.push(`${where}: a description starts with a capital letter ("${description.slice(0, 40)}")`);

if (process.argv.includes("--count")) {
  const counts = new Map<string, number>();
  for (const problem of problems) {
    const kind = problem.match(/Description is required for (\w+ \w+|\w+)/)?.[1] ?? "style";
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  process.stdout.write(`${problems.length} problem(s)\n`);
  for (const [kind, count] of counts) process.stdout.write(`  ${count} ${kind}\n`);
  process.exit(0);
}
if (problems.length > 0) {
  process.stderr.write(`${problems.join("\n")}\n${problems.length} schema lint problem(s)\n`);
  process.exit(1);
}
process.stdout.write(`schema lint: every definition is described (${described.length} descriptions checked)\n`);
