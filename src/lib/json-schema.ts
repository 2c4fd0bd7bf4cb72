import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import { LRUCache } from "lru-cache";
import { ValidationError } from "./errors.js";
import { linearRegExpEngine, PatternRefused } from "./linear-pattern.js";
import { checkSchemaBounds } from "./schema-limits.js";

/** The only dialect we accept; schemas without `$schema` are read as this one. */
const DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema";

/**
 * JSON Schema (draft 2020-12) for event types and agent payloads. One instance serves every tenant, so nothing a
 * tenant saves may stay registered in it (see compileSchema).
 */
const ajv = new Ajv2020({
  // Unknown keywords and formats are refused when a schema is saved: a typo would otherwise accept every payload.
  strict: true,
  // ...but not the optional checks that refuse valid schemas, such as `{ type: "object", required: ["id"] }`
  // (required without properties), `properties` without `type: "object"`, or a `prefixItems` tuple left open.
  strictRequired: false,
  strictTypes: false,
  strictTuples: false,
  allowUnionTypes: true,
  // Needed to report more than the first failure; payloads are size-limited by their callers.
  allErrors: true,
  // Do not register compiled schemas under their `$id`: two tenants (or two versions of one type) may share an `$id`.
  addUsedSchema: false,
  // Tenants write the patterns: V8's backtracking engine would let `^(a+)+$` hold the event loop for seconds on a
  // 30-character string. RE2 matches in linear time and refuses what needs backtracking when the schema is saved.
  code: { regExp: linearRegExpEngine },
});
// ajv-formats is CommonJS whose typings declare only a default export; under NodeNext that is `.default`.
formats.default(ajv);

/** Keywords whose values are instances, not schemas: a `$ref` member there is data. */
const INSTANCE_KEYWORDS = new Set(["const", "enum", "default", "examples"]);
/** Keywords whose values map names (not keywords) to subschemas. */
const NAMED_SUBSCHEMAS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);

function pointerToken(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * Finds what ajv would either fetch or fail on obscurely: a `$ref` leaving the document (we never load remote
 * schemas) or a `$schema` naming another dialect (ajv throws a plain error for it).
 */
function unsupported(value: unknown, path: string, named = false): string | null {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = unsupported(item, `${path}/${index}`);
      if (found) return found;
    }
    return null;
  }
  if (!value || typeof value !== "object") return null;
  for (const [key, item] of Object.entries(value)) {
    const at = `${path}/${pointerToken(key)}`;
    let found: string | null;
    if (named) found = unsupported(item, at);
    else if (INSTANCE_KEYWORDS.has(key)) found = null;
    else if (key === "$ref" && typeof item === "string" && !item.startsWith("#")) {
      found = `${at}: only local references ("#/...") are allowed`;
    } else if (key === "$schema" && item !== DRAFT_2020_12 && item !== `${DRAFT_2020_12}#`) {
      found = `${at}: only draft 2020-12 ("${DRAFT_2020_12}") is supported`;
    } else found = unsupported(item, at, NAMED_SUBSCHEMAS.has(key));
    if (found) return found;
  }
  return null;
}

/** `root/pointer reason` for up to `limit` errors, then how many more there were. */
function describe(errors: readonly ErrorObject[] | null | undefined, root: string, limit = 3): string {
  const all = errors ?? [];
  const shown = all.slice(0, limit).map((error) => {
    const extra =
      error.keyword === "additionalProperties"
        ? ` (${(error.params as { additionalProperty: string }).additionalProperty})`
        : "";
    return `${root}${error.instancePath} ${error.message ?? "is invalid"}${extra}`;
  });
  if (all.length > limit) shown.push(`and ${all.length - limit} more`);
  return shown.join("; ");
}

/**
 * Checks that `schema` is a valid draft 2020-12 schema (an object, or true/false) with only local `$ref`s, and
 * compiles it. Compiling is not cheap: on hot paths use {@link cachedSchema}.
 * @param field the input field to blame in the error (`schema`, `payloadSchema`...).
 * @throws ValidationError on `field`, pointing into the schema (`schema/properties/amount/type must be ...`).
 */
export function compileSchema(schema: unknown, field = "schema"): ValidateFunction {
  if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null || Array.isArray(schema))) {
    throw new ValidationError("a JSON Schema is an object (or true/false)", field);
  }
  checkSchemaBounds(schema, field);
  const problem = unsupported(schema, "schema");
  if (problem) throw new ValidationError(problem, field);
  if (!ajv.validateSchema(schema)) throw new ValidationError(describe(ajv.errors, "schema"), field);
  const knownRefs = new Set(Object.keys(ajv.refs));
  try {
    return ajv.compile(schema);
  } catch (error) {
    if (error instanceof PatternRefused) {
      throw new ValidationError(
        `schema: pattern ${JSON.stringify(error.pattern)} is refused: ${error.message}. Patterns run on a linear-time engine (RE2): no backreferences or lookaround`,
        field,
      );
    }
    // Strict-mode findings (unknown keyword or format), bad regular expressions, unresolvable local references.
    throw new ValidationError(`schema: ${(error as Error).message}`, field);
  } finally {
    // ajv would keep every compiled schema for the life of the process; the validate function needs none of it,
    // and cachedSchema bounds what we keep.
    if (typeof schema === "object") ajv.removeSchema(schema);
    // Nested `$id`s are recorded globally too (as paths into the removed schema).
    for (const ref of Object.keys(ajv.refs)) if (!knownRefs.has(ref)) delete ajv.refs[ref];
  }
}

const cache = new LRUCache<string, ValidateFunction>({ max: 500 });

/**
 * {@link compileSchema} once per `key`, which must change whenever the schema does (an id plus a version, say, with
 * a prefix naming the owner kind). Holds at most 500 entries; the least recently used go first.
 * @throws ValidationError on `schema` when the schema does not compile.
 */
export function cachedSchema(key: string, schema: unknown): ValidateFunction {
  const hit = cache.get(key);
  if (hit) return hit;
  const compiled = compileSchema(schema);
  cache.set(key, compiled);
  return compiled;
}

/**
 * Validates `value` against a compiled schema.
 * @throws ValidationError on `field` naming the JSON pointer and reason of up to three failures, then how many more
 * (`payload/amount must be number; payload must have required property 'id'; and 2 more`).
 */
export function validateAgainst(validate: ValidateFunction, value: unknown, field = "payload"): void {
  if (!validate(value)) throw new ValidationError(describe(validate.errors, field), field);
}
