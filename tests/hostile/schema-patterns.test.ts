import { describe, expect, it } from "vitest";
import { compileSchema } from "../../src/lib/json-schema.js";
import { compileLinearPattern, PatternRefused } from "../../src/lib/linear-pattern.js";
import { MAX_SCHEMA_BYTES, MAX_SCHEMA_DEPTH, MAX_SCHEMA_VALUES } from "../../src/lib/schema-limits.js";
import { execute } from "../support/graphql.js";
import { seed } from "../support/seed.js";

// JSON Schema patterns are written by tenants and run on every publish, inbound request and validatePayload. On
// V8's backtracking engine `^(a+)+$` against 28 `a`s and a `!` held the event loop for 2 s; each further `a`
// doubles it, so the 5,000 used below would never finish. On RE2 they finish, or this file times out.

const CATASTROPHIC = ["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "^([a-z]+)*[0-9]$", "(x+x+)+y", "^(\\w+\\s?)*$"];
const EVIL_INPUT = `${"a".repeat(5_000)}!`;

describe("patterns match in linear time", () => {
  it.each(CATASTROPHIC)("%s against 5,000 characters and a mismatch", (pattern) => {
    expect(compileLinearPattern(pattern).test(EVIL_INPUT)).toBe(false);
    expect(compileLinearPattern(pattern).test("aaaa")).toBe(new RegExp(pattern, "u").test("aaaa"));
  });

  it("validatePayload with a catastrophic pattern answers a failure, not a stall", async () => {
    const { headers } = await seed.tenantWithKey({ scopes: ["endpoints:read"] });
    const result = await execute<{ validatePayload: { __typename: string; valid?: boolean; field?: string } }>(
      `query ($schema: JSON!, $payload: JSON!) { validatePayload(schema: $schema, payload: $payload) {
        __typename ... on PayloadValid { valid } ... on Error { field message } } }`,
      { schema: { type: "string", pattern: "^(a+)+$" }, payload: EVIL_INPUT },
      headers,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.validatePayload).toMatchObject({ __typename: "ValidationError", field: "payload" });
  });

  it("a publish against an event type with a catastrophic pattern is refused on its payload", async () => {
    const { headers } = await seed.tenantWithKey({ scopes: ["endpoints:write", "events:publish"] });
    const created = await execute<{ createEventType: { __typename: string } }>(
      `mutation ($input: CreateEventTypeInput!) { createEventType(input: $input) { __typename } }`,
      {
        input: {
          name: "evil.pattern",
          schema: { type: "object", properties: { name: { type: "string", pattern: "^(a+)+$" } } },
        },
      },
      headers,
    );
    expect(created.data?.createEventType.__typename).toBe("EventType");
    const published = await execute<{ publishEvent: { __typename: string; field?: string } }>(
      `mutation ($input: PublishEventInput!) { publishEvent(input: $input) { __typename ... on Error { field } } }`,
      { input: { eventType: "evil.pattern", payload: { name: EVIL_INPUT } } },
      headers,
    );
    expect(published.data?.publishEvent).toMatchObject({ __typename: "ValidationError", field: "payload" });
  });
});

// The rewrite into RE2 syntax must keep ECMA's meaning: every pattern here, on every input, answers as V8 does.
const SAME_AS_ECMA = [
  "^[a-z]+$",
  "^\\d{3}-\\d{4}$",
  "^\\w+@\\w+\\.com$",
  "^a.c$",
  "\\s",
  "^\\S+$",
  "^[\\s\\d]+$",
  "^[^\\s]+$",
  "\\bword\\b",
  "^\\p{Lu}\\p{Ll}+$",
  "^\\p{L}+$",
  "^\\p{Letter}+$",
  "^\\p{General_Category=Letter}+$",
  "^\\p{Script=Greek}+$",
  "^\\P{L}+$",
  "^\\u00e9$",
  "^\\u{1F600}$",
  "^\\uD83D\\uDE00$",
  "^\\x41$",
  "^\\cJ$",
  "^[\\b]$",
  "^(?<year>\\d{4})-(?<month>\\d{2})$",
  "^(?:ab|cd){2,3}$",
  "^a{2,}$",
  "^a??b$",
  "^[]$",
  "^[^]$",
  "^[\\-a]+$",
  "^[a\\]]+$",
  "^\\$\\d+(\\.\\d\\d)?$",
  "^[\\u0041-\\u005A]+$",
  "colou?r",
  "^(foo|bar|baz)$",
  "^\\/path\\/[0-9a-f]{8}$",
  "^[\\w.+-]+$",
  "\\t|\\n|\\r|\\v|\\f",
  "^\\0$",
];
const INPUTS = [
  "",
  "abc",
  "ABC",
  "Abc",
  "a\nc",
  "a\rc",
  "a\u2028c",
  "a\u2029c",
  "axc",
  "123-4567",
  "x@y.com",
  "a b",
  "\u00a0",
  "\u3000",
  "\ufeff",
  " 12 ",
  "a word here",
  "sword",
  "Éé",
  "αβγ",
  "é",
  "😀",
  "A",
  "\n",
  "\b",
  "2026-12",
  "abab",
  "abcdab",
  "aaa",
  "b",
  "ab",
  "-a-",
  "a]",
  "$12.50",
  "HELLO",
  "color",
  "colour",
  "bar",
  "/path/deadbeef",
  "a.b+c-d",
  "\t",
  "\v",
  "\0",
];

describe("patterns mean what ECMA-262 says", () => {
  it.each(SAME_AS_ECMA)("%s", (pattern) => {
    const linear = compileLinearPattern(pattern);
    const ecma = new RegExp(pattern, "u");
    const differences = INPUTS.filter((input) => linear.test(input) !== ecma.test(input));
    expect(differences).toEqual([]);
  });
});

describe("patterns that need backtracking are refused when the schema is saved", () => {
  it.each([
    ["^(a)\\1$", "backreference"],
    ["^(?<x>a)\\k<x>$", "backreference"],
    ["^(?=a)a$", "lookahead"],
    ["^(?!a)b$", "lookahead"],
    ["(?<=a)b", "lookbehind"],
    ["(?<!a)b", "lookbehind"],
  ])("%s", (pattern, reason) => {
    expect(() => compileLinearPattern(pattern)).toThrow(PatternRefused);
    expect(() => compileLinearPattern(pattern)).toThrow(reason);
  });

  it("createEventType answers a ValidationError on schema naming the pattern, and saves nothing", async () => {
    const { headers } = await seed.tenantWithKey({ scopes: ["endpoints:write", "endpoints:read"] });
    const refused = await execute<{ createEventType: { __typename: string; field?: string; message?: string } }>(
      `mutation ($input: CreateEventTypeInput!) { createEventType(input: $input) {
        __typename ... on Error { field message } } }`,
      { input: { name: "refused.pattern", schema: { type: "string", pattern: "^(?=a)\\w+$" } } },
      headers,
    );
    expect(refused.data?.createEventType).toMatchObject({ __typename: "ValidationError", field: "schema" });
    expect(refused.data?.createEventType.message).toContain('pattern "^(?=a)\\\\w+$" is refused');
    const listed = await execute<{ eventTypes: { edges: { node: { name: string } }[] } }>(
      `{ eventTypes { edges { node { name } } } }`,
      {},
      headers,
    );
    expect(listed.errors).toBeUndefined();
    expect(listed.data?.eventTypes.edges).toEqual([]);
  });

  it("patternProperties keys run on the same engine", () => {
    expect(() => compileSchema({ type: "object", patternProperties: { "^(?!x)": {} } })).toThrow(/is refused/);
    const validate = compileSchema({
      type: "object",
      patternProperties: { "^(a+)+$": { type: "number" } },
    });
    expect(validate({ [EVIL_INPUT]: "not a number" })).toBe(true);
    expect(validate({ aaaa: "not a number" })).toBe(false);
  });

  it("an invalid ECMA pattern is refused too", () => {
    expect(() => compileSchema({ type: "string", pattern: "[" })).toThrow();
    expect(() => compileLinearPattern("(")).toThrow(PatternRefused);
  });
});

describe("a schema's size is bounded before it is walked or compiled", () => {
  function refusal(schema: unknown) {
    try {
      compileSchema(schema, "schema");
    } catch (error) {
      return error as { field: string; limit: number; message: string };
    }
    throw new Error("accepted");
  }

  it(`nesting deeper than ${MAX_SCHEMA_DEPTH} levels`, () => {
    let schema: Record<string, unknown> = { type: "string" };
    for (let level = 0; level < 100_000; level += 1) schema = { items: schema };
    expect(refusal(schema)).toMatchObject({ field: "schema", limit: MAX_SCHEMA_DEPTH });
  });

  it(`more than ${MAX_SCHEMA_VALUES} values`, () => {
    const schema = { enum: Array.from({ length: MAX_SCHEMA_VALUES + 1 }, (_, index) => index) };
    expect(refusal(schema)).toMatchObject({ field: "schema", limit: MAX_SCHEMA_VALUES });
  });

  it(`more than ${MAX_SCHEMA_BYTES} bytes`, () => {
    const schema = { description: "x".repeat(MAX_SCHEMA_BYTES) };
    expect(refusal(schema)).toMatchObject({ field: "schema", limit: MAX_SCHEMA_BYTES });
  });

  it("the limit reaches the GraphQL caller", async () => {
    const { headers } = await seed.tenantWithKey({ scopes: ["endpoints:write"] });
    const result = await execute<{ createEventType: { __typename: string; field?: string; limit?: number } }>(
      `mutation ($input: CreateEventTypeInput!) { createEventType(input: $input) {
        __typename ... on ValidationError { field limit } } }`,
      { input: { name: "huge.schema", schema: { description: "x".repeat(MAX_SCHEMA_BYTES) } } },
      headers,
    );
    expect(result.data?.createEventType).toEqual({
      __typename: "ValidationError",
      field: "schema",
      limit: MAX_SCHEMA_BYTES,
    });
  });
});
