import { encodeBase64, encodeCursorChunk } from "@pothos/core";
import type { GraphQLField } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import type { PageSize } from "../../src/graphql/pagination.js";
import { schema } from "../../src/schema.js";
import { execute } from "../support/graphql.js";
import { type SeededKey, seed } from "../support/seed.js";

/** Every connection among the root query fields, with the page sizes it was declared with. */
const connections = Object.values(schema.getQueryType()?.getFields() ?? {})
  .filter((field) => field.args.some((arg) => arg.name === "first"))
  .map((field: GraphQLField<unknown, unknown>) => ({
    name: field.name,
    size: field.extensions.signalpostPageSize as PageSize,
  }));

/** A cursor Pothos would parse (its `GPC:` prefix and chunk encoding) around a value that is not one of our ids. */
const wellFormedButForeign = encodeBase64(`GPC:${encodeCursorChunk("not-a-uuid")}`);

let admin: SeededKey;
beforeAll(async () => {
  admin = await seed.tenantWithKey();
});

async function page(field: string, args: Record<string, unknown>) {
  const declared = Object.keys(args)
    .map((name) => `$${name}: ${name === "first" || name === "last" ? "Int" : "String"}`)
    .join(", ");
  const passed = Object.keys(args)
    .map((name) => `${name}: $${name}`)
    .join(", ");
  return execute(`query (${declared}) { ${field}(${passed}) { __typename } }`, args, admin.headers);
}

function expectBadArgument(answer: Awaited<ReturnType<typeof page>>, argument: string) {
  const error = answer.errors?.[0];
  expect(error?.extensions, JSON.stringify(answer.errors)).toMatchObject({ code: "BAD_USER_INPUT", argument });
  return error?.extensions as Record<string, unknown>;
}

describe("pagination arguments are typed refusals, never INTERNAL", () => {
  it("finds every connection and its declared page size", () => {
    expect(connections.length).toBeGreaterThanOrEqual(9);
    for (const { name, size } of connections) expect(size?.maxSize, name).toBeGreaterThan(0);
  });

  it.each(connections)(
    "$name: first/last below 0 or over the limit name the argument and the limit",
    async ({ name, size }) => {
      for (const [argument, value] of [
        ["first", -1],
        ["last", -1],
        ["first", size.maxSize + 1],
        ["last", 2_147_483_647],
      ] as const) {
        const extensions = expectBadArgument(await page(name, { [argument]: value }), argument);
        expect(extensions).toMatchObject({ limit: size.maxSize, minimum: 0, received: value });
      }
      const atLimit = await page(name, { first: size.maxSize });
      expect(atLimit.errors, JSON.stringify(atLimit.errors)).toBeUndefined();
      const empty = await page(name, { last: 0 });
      expect(empty.errors, JSON.stringify(empty.errors)).toBeUndefined();
    },
  );

  it.each(connections)(
    "$name: malformed and foreign cursors are refused as the argument they came in",
    async ({ name }) => {
      for (const cursor of ["", "garbage", "R1BDOg==", wellFormedButForeign, "x".repeat(10_000)]) {
        expectBadArgument(await page(name, { after: cursor }), "after");
        expectBadArgument(await page(name, { before: cursor }), "before");
      }
    },
  );

  it("contradictory pairs name the second argument", async () => {
    const cursor = encodeBase64(`GPC:${encodeCursorChunk("00000000-0000-0000-0000-000000000000")}`);
    expectBadArgument(await page("endpoints", { after: cursor, before: cursor }), "before");
    expectBadArgument(await page("endpoints", { before: cursor, first: 1 }), "first");
    expectBadArgument(await page("endpoints", { after: cursor, last: 1 }), "last");
    expectBadArgument(await page("endpoints", { first: 1, last: 1 }), "last");
  });

  it("the cursors the API hands out page through a list, forwards and back", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    for (const name of ["b", "c"]) await seed.keyFor(tenant, { name });
    const list = `query ($first: Int, $after: String, $last: Int, $before: String) {
      apiKeys(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { name } } pageInfo { endCursor startCursor hasNextPage } } }`;
    type Page = {
      apiKeys: { edges: { node: { name: string } }[]; pageInfo: { endCursor: string; startCursor: string } };
    };
    const first = await execute<Page>(list, { first: 1 }, headers);
    expect(first.errors).toBeUndefined();
    const second = await execute<Page>(list, { first: 2, after: first.data?.apiKeys.pageInfo.endCursor }, headers);
    expect(second.errors).toBeUndefined();
    expect(second.data?.apiKeys.edges).toHaveLength(2);
    const back = await execute<Page>(list, { last: 1, before: second.data?.apiKeys.pageInfo.startCursor }, headers);
    expect(back.errors).toBeUndefined();
    expect(back.data?.apiKeys.edges.map((edge) => edge.node.name)).toEqual(
      first.data?.apiKeys.edges.map((edge) => edge.node.name),
    );
  });

  it("documents each list's limit on its first and last arguments", () => {
    for (const { name, size } of connections) {
      const field = schema.getQueryType()?.getFields()[name];
      for (const argument of ["first", "last"])
        expect(field?.args.find((arg) => arg.name === argument)?.description, `${name}.${argument}`).toContain(
          `0 to ${size.maxSize}`,
        );
    }
  });
});
