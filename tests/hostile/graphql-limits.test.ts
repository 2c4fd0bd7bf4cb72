import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import {
  type DocumentNode,
  type ExecutionArgs,
  type FragmentDefinitionNode,
  getIntrospectionQuery,
  Kind,
  type OperationDefinitionNode,
  parse,
  visit,
} from "graphql";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { GRAPHQL_LIMITS, operationCost } from "../../src/graphql/limits.js";
import { createGraphQLServer } from "../../src/http/yoga.js";
import { type RunningApiServer, startApiServer } from "../support/api-server.js";
import { testServices } from "../support/graphql.js";
import { validValue, variableType } from "../support/graphql-values.js";
import { type SeededKey, seed } from "../support/seed.js";

let api: RunningApiServer;
let admin: SeededKey;
beforeAll(async () => {
  api = await startApiServer();
  admin = await seed.tenantWithKey();
});
afterAll(async () => {
  await api.close();
});

interface Answer {
  status: number;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function post(query: string, options: { key?: SeededKey; variables?: Record<string, unknown> } = {}) {
  const response = await fetch(`${api.httpUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(options.key?.headers ?? {}) },
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
  });
  return { status: response.status, body: (await response.json()) as Answer["body"] };
}

function expectRefused(answer: Answer, code: string, limit: number) {
  expect(answer.status).toBe(400);
  expect(answer.body.data).toBeUndefined();
  const error = answer.body.errors?.find((candidate) => candidate.extensions?.code === code);
  expect(error, JSON.stringify(answer.body).slice(0, 500)).toBeDefined();
  expect(error?.extensions?.limit).toBe(limit);
  expect(error?.extensions?.measured).toBeGreaterThan(limit);
  return error?.extensions?.measured as number;
}

/** `attempts { delivery { attempts { delivery { ... id } } } }`, `levels` pairs deep (the issue's recursion). */
function attemptsNesting(levels: number): string {
  let inner = "id";
  for (let level = 0; level < levels; level++) inner = `attempts { delivery { ${inner} } }`;
  return `{ delivery(id: "00000000-0000-0000-0000-000000000000") { ... on Delivery { ${inner} } } }`;
}

const EXPENSIVE_ALIAS = `deliveries(first: 100) { ... on DeliveryConnection { edges { node { id event { payload }
  endpoint { health { state lastHour { attempts p95Ms } lastDay { attempts p95Ms } } } } } } }`;

describe("the issue's attacks are refused before execution, typed, with HTTP 400", () => {
  it("a 26 MB document of __typename: 413 without a key, MAX_TOKENS_EXCEEDED with one", async () => {
    const huge = `{ ${"__typename ".repeat(2_400_000)}}`;
    const anonymous = await post(huge);
    expect(anonymous.status).toBe(413);
    expect(anonymous.body.errors?.[0]?.extensions).toMatchObject({ code: "REQUEST_ENTITY_TOO_LARGE" });
    expectRefused(await post(huge, { key: admin }), "MAX_TOKENS_EXCEEDED", GRAPHQL_LIMITS.tokens);
    // Within the anonymous body limit, the token limit still applies.
    expectRefused(await post(`{ ${"__typename ".repeat(5_000)}}`), "MAX_TOKENS_EXCEEDED", GRAPHQL_LIMITS.tokens);
  });

  it("1,000 aliases of a page of 100 deliveries with nested lists: refused by the parser, before a tree", async () => {
    const aliases = Array.from({ length: 1_000 }, (_, index) => `a${index}: ${EXPENSIVE_ALIAS}`).join("\n");
    expectRefused(await post(`{ ${aliases} }`, { key: admin }), "MAX_TOKENS_EXCEEDED", GRAPHQL_LIMITS.tokens);
  });

  it("more aliases than the limit, within the token limit: MAX_ALIASES_EXCEEDED with the count", async () => {
    const aliases = Array.from({ length: 40 }, (_, index) => `a${index}: serverInfo { version }`).join(" ");
    const measured = expectRefused(await post(`{ ${aliases} }`), "MAX_ALIASES_EXCEEDED", GRAPHQL_LIMITS.aliases);
    expect(measured).toBe(40);
  });

  it("a few such aliases, within the alias limit, are over the cost limit: QUERY_TOO_COMPLEX", async () => {
    const aliases = Array.from({ length: 20 }, (_, index) => `a${index}: ${EXPENSIVE_ALIAS}`).join("\n");
    expectRefused(await post(`{ ${aliases} }`, { key: admin }), "QUERY_TOO_COMPLEX", GRAPHQL_LIMITS.cost);
  });

  it("the cost follows the page size asked for, through variables too", async () => {
    const page = EXPENSIVE_ALIAS.replace("first: 100", "first: $n");
    const query = `query Page($n: Int) { ${Array.from({ length: 8 }, (_, index) => `a${index}: ${page}`).join(" ")} }`;
    const small = await post(query, { key: admin, variables: { n: 5 } });
    expect(small.status).toBe(200);
    expect(small.body.errors).toBeUndefined();
    expectRefused(await post(query, { key: admin, variables: { n: 100 } }), "QUERY_TOO_COMPLEX", GRAPHQL_LIMITS.cost);
  });

  it.each([50, 100, 200, 450])(
    "attempts/delivery nested %i levels: MAX_DEPTH_EXCEEDED, never INTERNAL",
    async (levels) => {
      const measured = expectRefused(await post(attemptsNesting(levels), { key: admin }), "MAX_DEPTH_EXCEEDED", 15);
      expect(measured).toBeGreaterThanOrEqual(levels * 2);
    },
  );

  it("nesting as deep as the token limit allows is a typed refusal, not a stack overflow", async () => {
    const levels = Math.floor(GRAPHQL_LIMITS.tokens / 3) - 2;
    const query = `${"{ a ".repeat(levels)}{ __typename }${" }".repeat(levels)}`;
    const answer = await post(query, { key: admin });
    expect(answer.status).toBe(400);
    expect(answer.body.errors?.map((error) => error.extensions?.code)).toContain("MAX_DEPTH_EXCEEDED");
  });

  it("fragments that each spread the next three times (3^60 paths in a few KB, no key): refused, not walked", async () => {
    const fragments = Array.from(
      { length: 59 },
      (_, i) => `fragment F${i + 1} on Query { ${`...F${i + 2} `.repeat(3)}}`,
    );
    const query = `query { ...F1 } ${fragments.join(" ")} fragment F60 on Query { __typename }`;
    // Walking every path instead of every fragment never returned (a 16-fragment chain already took 6 s).
    expectRefused(await post(query), "MAX_DEPTH_EXCEEDED", GRAPHQL_LIMITS.depth);
    expect((await post("{ __typename }")).status).toBe(200);
  });

  it("directives beyond the limit: MAX_DIRECTIVES_EXCEEDED", async () => {
    const query = `{ ${Array.from({ length: 60 }, () => "__typename @include(if: true)").join(" ")} }`;
    expectRefused(await post(query, { key: admin }), "MAX_DIRECTIVES_EXCEEDED", GRAPHQL_LIMITS.directives);
  });

  it("introspection that multiplies by the schema per level: MAX_INTROSPECTION_DEPTH_EXCEEDED; GraphiQL's passes", async () => {
    const cycle = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    expectRefused(await post(cycle), "MAX_INTROSPECTION_DEPTH_EXCEEDED", GRAPHQL_LIMITS.introspectionLists);
    const graphiql = await post(
      getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true }),
    );
    expect(graphiql.body.errors).toBeUndefined();
    expect(graphiql.status).toBe(200);
  });
});

describe("the same limits over WebSocket and SSE", () => {
  it("graphql-ws: a too-deep query and a too-costly one are refused with their codes", async () => {
    const client = createClient({
      url: api.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${admin.token}` },
      retryAttempts: 0,
    });
    const run = (query: string) =>
      new Promise<{ extensions?: Record<string, unknown> }[]>((resolve, reject) => {
        client.subscribe(
          { query },
          {
            next: (result) => resolve((result.errors ?? []) as never),
            error: (errors) => resolve(errors as never),
            complete: () => undefined,
          },
        );
        setTimeout(() => reject(new Error("no answer")), 10_000).unref();
      });
    try {
      expect((await run(attemptsNesting(100)))[0]?.extensions).toMatchObject({ code: "MAX_DEPTH_EXCEEDED", limit: 15 });
      const costly = `{ ${Array.from({ length: 20 }, (_, index) => `a${index}: ${EXPENSIVE_ALIAS}`).join(" ")} }`;
      expect((await run(costly))[0]?.extensions).toMatchObject({
        code: "QUERY_TOO_COMPLEX",
        limit: GRAPHQL_LIMITS.cost,
      });
      expect((await run(`{ ${"__typename ".repeat(4_000)}}`))[0]?.extensions).toMatchObject({
        code: "MAX_TOKENS_EXCEEDED",
      });
      // A costly subscription is refused too, before it subscribes.
      const subscription = `subscription { deliveryUpdated { ${"attempts { delivery { ".repeat(10)} id ${"} } ".repeat(10)} } }`;
      const refused = await run(subscription);
      expect(refused.map((error) => error.extensions?.code)).toContain("MAX_DEPTH_EXCEEDED");
    } finally {
      await client.dispose();
    }
  });

  it("SSE: a too-deep subscription is refused with 400 and its code", async () => {
    const response = await fetch(`${api.httpUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...admin.headers },
      body: JSON.stringify({ query: attemptsNesting(60) }),
    });
    const text = await response.text();
    expect(text).toContain("MAX_DEPTH_EXCEEDED");
  });
});

/** Every operation in clients/operations, each with the fragments it uses. */
function clientOperations(): { name: string; document: DocumentNode }[] {
  const directory = new URL("../../clients/operations/", import.meta.url);
  const definitions = readdirSync(directory)
    .filter((file) => file.endsWith(".graphql"))
    .flatMap((file) => parse(readFileSync(new URL(file, directory), "utf8")).definitions);
  const fragments = new Map(
    definitions
      .filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION)
      .map((fragment) => [fragment.name.value, fragment]),
  );
  const used = (node: OperationDefinitionNode | FragmentDefinitionNode, into: Set<string>) => {
    visit(node, {
      FragmentSpread(spread) {
        if (into.has(spread.name.value)) return;
        into.add(spread.name.value);
        const fragment = fragments.get(spread.name.value);
        if (fragment) used(fragment, into);
      },
    });
    return into;
  };
  return definitions
    .filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)
    .map((operation) => ({
      name: operation.name?.value ?? "anonymous",
      document: {
        kind: Kind.DOCUMENT,
        definitions: [operation, ...[...used(operation, new Set())].map((name) => fragments.get(name) as never)],
      },
    }));
}

describe("what our clients send passes", () => {
  it("every operation in clients/operations, with the largest pages, is within every limit", async () => {
    const yoga = createGraphQLServer(testServices);
    const costs: { name: string; cost: number }[] = [];
    for (const { name, document } of clientOperations()) {
      const { schema, parse: parseLimited, validate } = yoga.getEnveloped({});
      const text = (await import("graphql")).print(document);
      const parsed = parseLimited(text);
      expect(validate(schema, parsed), name).toEqual([]);
      const operation = parsed.definitions[0] as OperationDefinitionNode;
      const variableValues = Object.fromEntries(
        (operation.variableDefinitions ?? []).map((definition) => [
          definition.variable.name.value,
          ["first", "last", "limit"].includes(definition.variable.name.value)
            ? 200
            : validValue(variableType(schema, definition.type)),
        ]),
      );
      const cost = operationCost({ schema, document: parsed, variableValues, contextValue: {} } as ExecutionArgs);
      expect(cost, name).not.toBeNull();
      costs.push({ name, cost: cost as number });
    }
    costs.sort((a, b) => b.cost - a.cost);
    const [mostExpensive] = costs;
    expect(mostExpensive?.cost).toBeLessThanOrEqual(GRAPHQL_LIMITS.cost);
    // And it runs over HTTP, at the largest page, without any limit refusing it.
    const { document } = clientOperations().find((operation) => operation.name === mostExpensive?.name) ?? {};
    const text = (await import("graphql")).print(document as DocumentNode);
    let answer = await post(text, { key: admin, variables: { first: 200 } });
    // A list whose page limit is lower refuses 200 with its limit: ask for exactly that.
    const limit = answer.body.errors?.find((error) => error.extensions?.code === "BAD_USER_INPUT")?.extensions?.limit;
    if (typeof limit === "number") answer = await post(text, { key: admin, variables: { first: limit } });
    expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBe(200);
    expect(answer.body.errors).toBeUndefined();
    console.info("most expensive client operations:", costs.slice(0, 5));
  });
});

describe("bodies without a credential are small", () => {
  const padded = (bytes: number) => JSON.stringify({ query: `{ __typename }${" ".repeat(bytes)}` });

  it("100 KB without a key: 413 REQUEST_ENTITY_TOO_LARGE with the limit; with a key, answered", async () => {
    const body = padded(100 * 1024);
    const anonymous = await fetch(`${api.httpUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(anonymous.status).toBe(413);
    expect(((await anonymous.json()) as Answer["body"]).errors?.[0]?.extensions).toEqual({
      code: "REQUEST_ENTITY_TOO_LARGE",
      limit: 64 * 1024,
      measured: Buffer.byteLength(body),
      withCredential: false,
    });
    const keyed = await fetch(`${api.httpUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...admin.headers },
      body,
    });
    expect(keyed.status).toBe(200);
    expect(await keyed.json()).toEqual({ data: { __typename: "Query" } });
  });

  it("a made-up key does not buy the large-body limit: 401 before the body is read", async () => {
    // 10 MB announced, 1 KB sent, the rest never: only an answer given before the body is read can arrive.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(`${api.httpUrl}/graphql`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": String(10 * 1024 * 1024),
          authorization: "Bearer sp_00000000000000000000000000000000_madeupmadeupmadeupmadeupmadeupmadeupmadeup",
        },
      });
      request.on("response", (response) => {
        let body = "";
        response.on("data", (chunk) => {
          body += chunk;
        });
        response.on("end", () => {
          resolve({ status: response.statusCode ?? 0, body });
          request.destroy();
        });
      });
      request.on("error", reject);
      request.write(`{"query":"{ __typename }","variables":{"x":[${"[],".repeat(300)}`);
    });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });

  it("a streamed (chunked) body without a key is counted against the same limit", async () => {
    const chunks = [padded(40 * 1024).slice(0, -2), " ".repeat(40 * 1024), '"}'];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
    const response = await fetch(`${api.httpUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as Answer["body"]).errors?.[0]?.extensions).toMatchObject({
      code: "REQUEST_ENTITY_TOO_LARGE",
      limit: 64 * 1024,
    });
  });
});
