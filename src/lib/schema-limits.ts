import { ValidationError } from "./errors.js";

/**
 * How large a JSON Schema may be. Schemas are compiled to code by ajv on save, on `validatePayload`, and again in
 * every process that validates against them, so their size bounds the work a tenant can ask for. Real schemas are a
 * few KB; 64 KB leaves room for generated ones.
 * Measured (2 shared cores, Node 20): the slowest schema within these bounds we found, 1,600 properties under one
 * object each with `type`, `minLength` and a `pattern`, 64 KB and 4,900 values, compiles in about 170 ms; 20,000-member
 * enums hit the byte bound first. See tests/hostile/schema-patterns.test.ts.
 */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/** JSON values of any kind (objects, arrays, strings, numbers, booleans, nulls) in one schema. */
export const MAX_SCHEMA_VALUES = 5_000;
/** Objects and arrays nested in one another: 32 levels are 16 levels of `properties`. */
export const MAX_SCHEMA_DEPTH = 32;

/**
 * Refuses a schema over one of the bounds, before anything walks it recursively or compiles it.
 * @throws ValidationError on `field` with the `limit` that was passed.
 */
export function checkSchemaBounds(schema: unknown, field: string): void {
  let values = 0;
  // Iterative, so that a schema nested a million levels deep is measured without a stack overflow.
  const pending: Array<{ value: unknown; depth: number }> = [{ value: schema, depth: 0 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, depth } = next;
    values += 1;
    if (values > MAX_SCHEMA_VALUES) {
      throw new ValidationError(
        `schema has more than ${MAX_SCHEMA_VALUES} JSON values (objects, arrays, strings, numbers...)`,
        field,
        { limit: MAX_SCHEMA_VALUES },
      );
    }
    if (!value || typeof value !== "object") continue;
    if (depth >= MAX_SCHEMA_DEPTH) {
      throw new ValidationError(`schema nests objects and arrays more than ${MAX_SCHEMA_DEPTH} levels deep`, field, {
        limit: MAX_SCHEMA_DEPTH,
      });
    }
    for (const item of Object.values(value)) pending.push({ value: item, depth: depth + 1 });
  }
  const bytes = Buffer.byteLength(JSON.stringify(schema));
  if (bytes > MAX_SCHEMA_BYTES) {
    throw new ValidationError(`schema is ${bytes} bytes of JSON, more than ${MAX_SCHEMA_BYTES} (64 KB)`, field, {
      limit: MAX_SCHEMA_BYTES,
    });
  }
}
