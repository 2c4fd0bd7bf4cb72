import { randomUUID } from "node:crypto";

/** How deep nested objects and arrays are filled before the generator stops (a recursive `$ref`-free guard). */
const MAX_DEPTH = 6;

type Schema = Record<string, unknown>;

/**
 * An example value for a JSON Schema, for `signalpost trigger`: the schema's own `const`, `examples`, `example`,
 * `default` or first `enum` value when it has one, else a small valid instance built from `type`, `properties` (all
 * of them, required or not), `items`, `format`, `minLength`/`maxLength`, `minimum`/`maximum`/`multipleOf` and
 * `minItems`. Deterministic on purpose (unlike json-schema-faker's random data): the same type gives the same
 * example, and the server validates it on publish, so a schema this cannot satisfy (a `pattern`, `$ref`) is refused
 * there with the field named rather than published wrong.
 */
export function exampleFromSchema(schema: unknown, depth = 0): unknown {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return depth === 0 ? {} : null;
  const s = schema as Schema;
  if ("const" in s) return s.const;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if ("example" in s) return s.example;
  if ("default" in s) return s.default;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if (Array.isArray(s.allOf) && s.allOf.length > 0) {
    const parts = s.allOf.map((part) => exampleFromSchema(part, depth + 1));
    return parts.every(isPlainObject) ? Object.assign({}, ...parts) : parts[0];
  }
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length > 0) return exampleFromSchema(options[0], depth + 1);
  }
  switch (typeOf(s)) {
    case "object": {
      const example: Record<string, unknown> = {};
      if (depth >= MAX_DEPTH) return example;
      for (const [name, property] of Object.entries((s.properties as Record<string, unknown>) ?? {}))
        example[name] = exampleFromSchema(property, depth + 1);
      return example;
    }
    case "array": {
      const count = Math.max(Number(s.minItems ?? 0), s.items && s.maxItems !== 0 ? 1 : 0);
      if (depth >= MAX_DEPTH) return [];
      return Array.from({ length: count }, () => exampleFromSchema(s.items ?? {}, depth + 1));
    }
    case "string":
      return exampleString(s);
    case "integer":
      return exampleNumber(s, true);
    case "number":
      return exampleNumber(s, false);
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return depth === 0 ? {} : null;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function typeOf(s: Schema): string | undefined {
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== "null") ?? s.type[0]) : s.type;
  if (typeof type === "string") return type;
  if (s.properties || s.required) return "object";
  if (s.items) return "array";
  return undefined;
}

const FORMATS: Record<string, () => string> = {
  "date-time": () => new Date().toISOString(),
  date: () => new Date().toISOString().slice(0, 10),
  time: () => new Date().toISOString().slice(11, 19) + "Z",
  email: () => "jane@example.com",
  "idn-email": () => "jane@example.com",
  uri: () => "https://example.com/",
  url: () => "https://example.com/",
  "uri-reference": () => "https://example.com/",
  hostname: () => "example.com",
  ipv4: () => "192.0.2.1",
  ipv6: () => "2001:db8::1",
  uuid: () => randomUUID(),
};

function exampleString(s: Schema): string {
  const format = typeof s.format === "string" ? FORMATS[s.format] : undefined;
  if (format) return format();
  const min = Number(s.minLength ?? 0);
  const max = s.maxLength === undefined ? Number.POSITIVE_INFINITY : Number(s.maxLength);
  let text = "example";
  while (text.length < min) text += "x";
  return text.slice(0, Math.max(min, Math.min(max, text.length)));
}

function exampleNumber(s: Schema, integer: boolean): number {
  const step = integer ? 1 : 0.5;
  let low = typeof s.minimum === "number" ? s.minimum : Number.NEGATIVE_INFINITY;
  if (typeof s.exclusiveMinimum === "number") low = Math.max(low, s.exclusiveMinimum + step);
  let high = typeof s.maximum === "number" ? s.maximum : Number.POSITIVE_INFINITY;
  if (typeof s.exclusiveMaximum === "number") high = Math.min(high, s.exclusiveMaximum - step);
  let value = Number.isFinite(low) ? low : Number.isFinite(high) ? Math.min(high, 1) : 1;
  if (integer) value = Math.ceil(value);
  const multiple = typeof s.multipleOf === "number" && s.multipleOf > 0 ? s.multipleOf : undefined;
  if (multiple) value = Math.ceil(value / multiple) * multiple;
  return value;
}
