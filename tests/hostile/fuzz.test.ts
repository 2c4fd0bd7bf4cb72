import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
} from "graphql";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { schema } from "../../src/schema.js";
import { type RunningApiServer, startApiServer } from "../support/api-server.js";
import { seededRandom, validValue } from "../support/graphql-values.js";
import { type SeededKey, seed } from "../support/seed.js";

// Documents and variables generated from the schema, valid and not: random selections with random arguments,
// garbage tokens, variables of the wrong type, huge numbers, deep nesting. Whatever comes, the answer is never a 5xx
// nor an INTERNAL error, and the server keeps answering. A fixed seed makes every run send the same cases.
const SEED = 1313;
const HTTP_CASES = 300;
const WEBSOCKET_CASES = 20;

const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const chance = (probability: number) => random() < probability;

const HUGE_NUMBERS = ["99999999999999999999", "1e400", "-2147483649", "2147483648", "-1", "0.5", "NaN"];
const WRONG_LITERALS = ['"text"', "{ nope: 1 }", "[[[[1]]]]", "null", "true", '"\\u0000"', '"\\ud800"', "$undeclared"];

/** A literal for an input type: usually valid, sometimes a wrong type, a huge number or garbage. */
function literal(type: GraphQLInputType, depth = 0): string {
  if (chance(0.08)) return pick([...WRONG_LITERALS, ...HUGE_NUMBERS]);
  if (isNonNullType(type)) return literal(type.ofType, depth);
  if (isListType(type)) return `[${literal(type.ofType as GraphQLInputType, depth + 1)}]`;
  if (isEnumType(type)) return pick(type.getValues()).name;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter(
      (field) => (isNonNullType(field.type) && field.defaultValue === undefined) || (depth < 3 && chance(0.3)),
    );
    return `{ ${fields.map((field) => `${field.name}: ${literal(field.type, depth + 1)}`).join(", ")} }`;
  }
  switch (type.name) {
    case "Int":
      return pick(["0", "1", "20", "100", "500", ...HUGE_NUMBERS]);
    case "Float":
      return pick(["0", "1.5", "1e308"]);
    case "Boolean":
      return pick(["true", "false"]);
    case "JSON":
      return pick(["{ a: 1 }", "[1, 2]", '"x"', "null", '{ deep: { deeper: [1, { x: "y" }] } }']);
    case "DateTime":
      return pick(['"2024-01-01T00:00:00Z"', '"yesterday"', '"9999-99-99"']);
    default:
      return JSON.stringify(pick(["x", "", "00000000-0000-0000-0000-000000000000", "a".repeat(2_000), "order.*"]));
  }
}

function argumentsOf(args: readonly GraphQLArgument[]): string {
  const chosen = args.filter((arg) => isNonNullType(arg.type) || chance(0.4));
  if (chance(0.01)) chosen.push({ name: "notAnArgument", type: args[0]?.type } as GraphQLArgument);
  if (chosen.length === 0) return "";
  return `(${chosen.map((arg) => `${arg.name}: ${arg.type ? literal(arg.type) : "1"}`).join(", ")})`;
}

/** A random selection of a type's fields, `depth` levels at most (deeper only now and then, on purpose). */
function selectionOf(type: GraphQLOutputType, depth: number): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return "";
  if (isUnionType(named)) {
    const members = named.getTypes().filter(() => chance(0.6));
    return `{ __typename ${members.map((member) => `... on ${member.name} ${selectionOf(member, depth)}`).join(" ")} }`;
  }
  if (!isObjectType(named) && !isInterfaceType(named)) return "{ __typename }";
  const fields = Object.values(named.getFields()) as GraphQLField<unknown, unknown>[];
  const usable = depth <= 0 ? fields.filter((field) => isLeafType(getNamedType(field.type))) : fields;
  const count = 1 + Math.floor(random() * 4);
  const parts = ["__typename"];
  const picked = new Set<string>();
  for (let i = 0; i < count && usable.length > 0; i++) {
    const field = pick(usable);
    // The same field twice with other arguments only meets the spec's merge rule; an alias makes it another field.
    const alias = picked.has(field.name) || chance(0.1) ? `x${i}: ` : "";
    picked.add(field.name);
    parts.push(`${alias}${field.name}${argumentsOf(field.args)} ${selectionOf(field.type, depth - 1)}`);
  }
  if (chance(0.01)) parts.push("notAField");
  return `{ ${parts.join(" ")} }`;
}

interface Case {
  query: string;
  variables?: Record<string, unknown>;
}

/** An operation on a random root field, its arguments inline or (sometimes wrongly typed) in variables. */
function operationCase(): Case {
  const [keyword, root] = chance(0.6)
    ? (["query", schema.getQueryType()] as const)
    : (["mutation", schema.getMutationType()] as const);
  if (!root) throw new Error("no root type");
  const field = pick(Object.values(root.getFields()));
  const depth = chance(0.1) ? 8 : 3;
  if (field.args.length > 0 && chance(0.4)) {
    const definitions = field.args.map((arg) => `$${arg.name}: ${arg.type}`).join(", ");
    const passed = field.args.map((arg) => `${arg.name}: $${arg.name}`).join(", ");
    const variables = Object.fromEntries(
      field.args.map((arg) => [
        arg.name,
        chance(0.25)
          ? pick<unknown>([12, "12", 1e300, -1, [], {}, null, true, "\u0000", "x".repeat(5_000)])
          : validValue(arg.type, random),
      ]),
    );
    return {
      query: `${keyword} Fuzz(${definitions}) { ${field.name}(${passed}) ${selectionOf(field.type, depth)} }`,
      variables,
    };
  }
  return { query: `${keyword} { ${field.name}${argumentsOf(field.args)} ${selectionOf(field.type, depth)} }` };
}

const GARBAGE = [
  "{",
  "}",
  "(",
  ")",
  "[",
  "]",
  "...",
  "@include",
  "$x",
  ":",
  "query",
  "mutation",
  "subscription",
  "fragment",
  "on",
  "__typename",
  '"',
  '"""',
  "#",
  "1e999",
  "!",
  "=",
  "|",
  "&",
  "serverInfo",
  "endpoints",
  "\\u0000",
];

function garbageCase(): Case {
  const length = 1 + Math.floor(random() * 60);
  return { query: Array.from({ length }, () => pick(GARBAGE)).join(chance(0.5) ? " " : "") };
}

function deepCase(): Case {
  const levels = 20 + Math.floor(random() * 900);
  const field = pick(["attempts { delivery", "endpoint { deliveries", "a { b", "__schema { types { fields { type"]);
  return { query: `{ ${`${field} { `.repeat(levels)} id ${"} } ".repeat(levels)} }` };
}

function fuzzCase(): Case {
  const roll = random();
  if (roll < 0.7) return operationCase();
  if (roll < 0.85) return garbageCase();
  return deepCase();
}

let api: RunningApiServer;
let admin: SeededKey;
beforeAll(async () => {
  api = await startApiServer();
  admin = await seed.tenantWithKey();
});
afterAll(async () => {
  await api.close();
});

interface Failure {
  case: Case;
  status: number;
  body: string;
}

const INTERNAL = /INTERNAL|Unexpected error/;

describe(`fuzzing GraphQL from the schema (seed ${SEED})`, () => {
  it(`${HTTP_CASES} generated requests over HTTP: no 5xx, no INTERNAL error`, async () => {
    const cases = Array.from({ length: HTTP_CASES }, fuzzCase);
    const failures: Failure[] = [];
    let executed = 0;
    // A few at a time, like clients would.
    for (let start = 0; start < cases.length; start += 4) {
      await Promise.all(
        cases.slice(start, start + 4).map(async (fuzz, offset) => {
          const anonymous = (start + offset) % 5 === 0;
          const response = await fetch(`${api.httpUrl}/graphql`, {
            method: "POST",
            headers: { "content-type": "application/json", ...(anonymous ? {} : admin.headers) },
            body: JSON.stringify(fuzz),
          });
          const body = await response.text();
          if (response.status >= 500 || INTERNAL.test(body))
            failures.push({ case: fuzz, status: response.status, body });
          if (body.startsWith(`{"data"`)) executed += 1;
        }),
      );
    }
    expect(failures.slice(0, 5)).toEqual([]);
    // Not only refusals: enough cases reach the resolvers for the fuzzing to mean something.
    expect(executed).toBeGreaterThan(HTTP_CASES / 5);
    expect((await fetch(`${api.httpUrl}/healthz`)).status).toBe(200);
  });

  it(`${WEBSOCKET_CASES} generated operations over WebSocket: no INTERNAL error, the connection stays usable`, async () => {
    const client = createClient({
      url: api.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: admin.headers.authorization },
      retryAttempts: 0,
    });
    const failures: { case: Case; errors: unknown }[] = [];
    try {
      for (let index = 0; index < WEBSOCKET_CASES; index++) {
        const fuzz = index % 2 === 0 ? operationCase() : pick([garbageCase, deepCase])();
        const errors = await new Promise<unknown[]>((resolve) => {
          const collected: unknown[] = [];
          client.subscribe(fuzz, {
            next: (result) => collected.push(...(result.errors ?? [])),
            error: (error) => resolve([...collected, ...(Array.isArray(error) ? error : [error])]),
            complete: () => resolve(collected),
          });
        });
        // GraphQL errors (plain objects off the wire) or the socket's close event (code and reason).
        const seen = errors.map((error) => {
          const { message, extensions, code, reason } = error as Record<string, unknown>;
          return { message, extensions, code, reason };
        });
        if (INTERNAL.test(JSON.stringify(seen)) || seen.some((error) => typeof error.code === "number"))
          failures.push({ case: fuzz, errors: seen });
      }
      expect(failures.slice(0, 5)).toEqual([]);
      const alive = await new Promise<unknown>((resolve, reject) =>
        client.subscribe(
          { query: "{ serverInfo { version } }" },
          { next: resolve, error: reject, complete: () => undefined },
        ),
      );
      expect(alive).toMatchObject({ data: { serverInfo: { version: expect.any(String) } } });
    } finally {
      await client.dispose();
    }
  });
});
