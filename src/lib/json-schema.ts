import { createRequire } from "node:module";
import type { ErrorObject, ValidateFunction } from "ajv";
import { ValidationError } from "./errors.js";

// ajv ships CommonJS; createRequire gives us its classes with their real types under NodeNext.
const require = createRequire(import.meta.url);
const Ajv2020 = require("ajv/dist/2020.js").default as typeof import("ajv/dist/2020.js").default;
const addFormats = require("ajv-formats").default as typeof import("ajv-formats").default;

/**
 * JSON Schema (draft 2020-12) for event types and agent payloads. Strict mode catches typos in schemas (unknown
 * keywords) when they are saved, instead of silently accepting every payload later.
 */
const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true, validateFormats: true });
addFormats(ajv);

function describe(errors: readonly ErrorObject[] | null | undefined, root: string, limit = 3): string {
  return (errors ?? [])
    .slice(0, limit)
    .map((error) => {
      const pointer = `${root}${error.instancePath}`;
      const extra =
        error.keyword === "additionalProperties"
          ? ` (${(error.params as { additionalProperty: string }).additionalProperty})`
          : "";
      return `${pointer} ${error.message ?? "is invalid"}${extra}`;
    })
    .join("; ");
}

/** Finds a `$ref` that does not point inside the schema (we never fetch remote schemas). */
function remoteRef(value: unknown, path = "schema"): string | null {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = remoteRef(item, `${path}/${index}`);
      if (found) return found;
    }
  } else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key === "$ref" && typeof item === "string" && !item.startsWith("#")) return `${path}/$ref`;
      const found = remoteRef(item, `${path}/${key}`);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Checks that `schema` is a valid draft 2020-12 schema and compiles it.
 * @throws ValidationError on `field`, pointing at the problem (`schema/properties/amount/type must be ...`).
 */
export function compileSchema(schema: unknown, field = "schema"): ValidateFunction {
  if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null || Array.isArray(schema))) {
    throw new ValidationError("a JSON Schema is an object (or true/false)", field);
  }
  const ref = remoteRef(schema);
  if (ref) throw new ValidationError(`${ref}: only local references ("#/...") are allowed`, field);
  if (!ajv.validateSchema(schema as object)) throw new ValidationError(describe(ajv.errors, "schema"), field);
  try {
    return ajv.compile(schema as object);
  } catch (error) {
    throw new ValidationError(`schema: ${(error as Error).message}`, field);
  }
}

const cache = new Map<string, ValidateFunction>();
const CACHE_LIMIT = 500;

/** Compiles once per `key` (an id plus a version, say); the least recently used entries go first. */
export function cachedSchema(key: string, schema: unknown): ValidateFunction {
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const compiled = compileSchema(schema);
  cache.set(key, compiled);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  return compiled;
}

/**
 * Validates a value. @throws ValidationError on `field` naming the JSON pointer and reason of up to three problems,
 * e.g. `payload/amount must be number`.
 */
export function validateAgainst(validate: ValidateFunction, value: unknown, field = "payload"): void {
  if (!validate(value)) throw new ValidationError(describe(validate.errors, field), field);
}
