import { describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { ValidationError } from "../../src/lib/errors.js";
import { compileSchema, validateAgainst } from "../../src/lib/json-schema.js";
import { execute } from "../support/graphql.js";
import { seed } from "../support/seed.js";

const CREATE = `mutation ($input: CreateEventTypeInput!) { createEventType(input: $input) {
  __typename ... on EventType { id name schema archived } ... on Error { code field message } } }`;
type Created = { createEventType: { __typename: string; id: string; code?: string; field?: string; message?: string } };

describe("JSON Schema checks", () => {
  it("points at the problem in an invalid schema", () => {
    expect(() => compileSchema({ type: "object", properties: { amount: { type: "money" } } })).toThrow(
      /schema\/properties\/amount\/type must be equal to one of the allowed values/,
    );
    expect(() => compileSchema({ typo: true })).toThrow(ValidationError);
    expect(() => compileSchema("not a schema")).toThrow("a JSON Schema is an object (or true/false)");
    expect(() => compileSchema({ $ref: "https://example.com/schema.json" })).toThrow(
      'schema/$ref: only local references ("#/...") are allowed',
    );
  });

  it("reports up to three failures with their JSON pointers", () => {
    const validate = compileSchema({
      type: "object",
      properties: {
        id: { type: "integer" },
        email: { type: "string", format: "email" },
        tags: { type: "array", maxItems: 1 },
      },
    });
    expect(() => validateAgainst(validate, { id: 1.5, email: "nope", tags: [1, 2] })).toThrow(
      'payload/id must be integer; payload/email must match format "email"; payload/tags must NOT have more than 1 items',
    );
    expect(() => validateAgainst(validate, { id: 1, email: "a@b.co", tags: [] })).not.toThrow();
  });
});

describe("event types", () => {
  it("creates a type with a schema, refuses a bad schema or a taken name, and writes nothing then", async () => {
    const { headers, tenant } = await seed.tenantWithKey();
    const ok = await execute<Created>(CREATE, { input: { name: "invoice.paid", schema: { type: "object" } } }, headers);
    expect(ok.data?.createEventType.__typename).toBe("EventType");
    const bad = await execute<Created>(CREATE, { input: { name: "invoice.void", schema: { type: 12 } } }, headers);
    expect(bad.data?.createEventType).toMatchObject({ __typename: "ValidationError", field: "schema" });
    const taken = await execute<Created>(CREATE, { input: { name: "invoice.paid" } }, headers);
    expect(taken.data?.createEventType).toMatchObject({ __typename: "ConflictError", field: "name" });
    const badName = await execute<Created>(CREATE, { input: { name: "has spaces" } }, headers);
    expect(badName.data?.createEventType).toMatchObject({ __typename: "ValidationError", field: "name" });
    expect(await prisma.eventType.count({ where: { tenantId: tenant.id } })).toBe(1);
    expect(await prisma.auditEntry.count({ where: { tenantId: tenant.id, action: "event_type.created" } })).toBe(1);
  });

  it("updates and removes a schema, archives, and lists archived types only on request", async () => {
    const { headers } = await seed.tenantWithKey();
    const created = await execute<Created>(
      CREATE,
      { input: { name: "user.created", schema: { type: "object" } } },
      headers,
    );
    const id = created.data?.createEventType.id;
    const update = `mutation ($id: ID!, $input: UpdateEventTypeInput!) { updateEventType(id: $id, input: $input) {
      __typename ... on EventType { schema description } } }`;
    const cleared = await execute<{ updateEventType: { schema: unknown; description: string } }>(
      update,
      { id, input: { schema: null, description: "users" } },
      headers,
    );
    expect(cleared.data?.updateEventType).toMatchObject({ schema: null, description: "users" });
    await execute(`mutation ($id: ID!) { archiveEventType(id: $id) { __typename } }`, { id }, headers);
    const listed = await execute<{ eventTypes: { edges: unknown[] } }>(
      "{ eventTypes { edges { node { id } } } }",
      {},
      headers,
    );
    expect(listed.data?.eventTypes.edges).toHaveLength(0);
    const all = await execute<{ eventTypes: { edges: { node: { archived: boolean } }[] } }>(
      "{ eventTypes(includeArchived: true) { edges { node { archived } } } }",
      {},
      headers,
    );
    expect(all.data?.eventTypes.edges.map((edge) => edge.node.archived)).toEqual([true]);
  });

  it("answers another tenant's type as NOT_FOUND", async () => {
    const alice = await seed.tenantWithKey();
    const bob = await seed.tenantWithKey();
    const created = await execute<Created>(CREATE, { input: { name: "secret.thing" } }, alice.headers);
    const result = await execute<{ eventType: { __typename: string } }>(
      `query ($id: ID!) { eventType(id: $id) { __typename } }`,
      { id: created.data?.createEventType.id },
      bob.headers,
    );
    expect(result.data?.eventType.__typename).toBe("NotFoundError");
  });
});
