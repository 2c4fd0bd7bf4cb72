import { describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { ValidationError } from "../../src/lib/errors.js";
import { cachedSchema, compileSchema, validateAgainst } from "../../src/lib/json-schema.js";
import { eventTypeForPublish, updateEventType } from "../../src/modules/event-types/event-types.service.js";
import type { RequestOrigin } from "../../src/modules/identity/viewer.js";
import { execute } from "../support/graphql.js";
import { gid, uuidOf } from "../support/ids.js";
import { seed, seedEventType } from "../support/seed.js";

const CREATE = `mutation ($input: CreateEventTypeInput!) { createEventType(input: $input) {
  __typename ... on EventType { id name schema archived } ... on Error { code field message } } }`;
const UPDATE = `mutation ($id: ID!, $input: UpdateEventTypeInput!) { updateEventType(id: $id, input: $input) {
  __typename ... on EventType { schema description } ... on Error { code field message } } }`;
const ARCHIVE = `mutation ($id: ID!) { archiveEventType(id: $id) {
  __typename ... on EventType { archived archivedAt } ... on Error { code field message } } }`;

interface Outcome {
  __typename: string;
  id?: string;
  schema?: unknown;
  description?: string | null;
  archived?: boolean;
  archivedAt?: string | null;
  code?: string;
  field?: string;
  message?: string;
}

const origin: RequestOrigin = { actor: { type: "system", id: null, name: "event type test" } };

/** The ValidationError a call throws, so tests can look at both its message and its field. */
async function refusal(work: () => unknown): Promise<ValidationError> {
  try {
    await work();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error("expected a ValidationError, and nothing was thrown");
}

describe("compileSchema", () => {
  it("points at the problem in an invalid schema, on the field it is given", async () => {
    expect(() => compileSchema({ type: "object", properties: { amount: { type: "money" } } })).toThrow(
      /^schema\/properties\/amount\/type must be equal to one of the allowed values/,
    );
    expect(() => compileSchema({ typo: true })).toThrow('unknown keyword: "typo"');
    expect(() => compileSchema({ type: "string", format: "money" })).toThrow('unknown format "money"');
    expect(() => compileSchema("not a schema")).toThrow("a JSON Schema is an object (or true/false)");
    expect((await refusal(() => compileSchema({ minimum: "1" }, "payloadSchema"))).field).toBe("payloadSchema");
  });

  it("accepts valid draft 2020-12 schemas that ajv's optional strictness would refuse", () => {
    // The README's own example: `required` without `properties`.
    expect(compileSchema({ type: "object", required: ["orderId"] })({})).toBe(false);
    expect(compileSchema({ properties: { id: { type: "integer" } } })({ id: "7" })).toBe(false);
    expect(compileSchema({ type: "array", prefixItems: [{ type: "string" }] })([1])).toBe(false);
    expect(compileSchema({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "string" })("s")).toBe(true);
    expect(compileSchema(true)(42)).toBe(true);
  });

  it("refuses other drafts as a validation failure, not an internal error", async () => {
    const error = await refusal(() => compileSchema({ $schema: "http://json-schema.org/draft-07/schema#" }));
    expect(error.message).toBe(
      'schema/$schema: only draft 2020-12 ("https://json-schema.org/draft/2020-12/schema") is supported',
    );
    expect(error.field).toBe("schema");
  });

  it("allows local references only, and does not mistake data for a reference", () => {
    expect(() => compileSchema({ $ref: "https://example.com/schema.json" })).toThrow(
      'schema/$ref: only local references ("#/...") are allowed',
    );
    expect(() => compileSchema({ properties: { a: { $ref: "other.json#/x" } } })).toThrow(
      'schema/properties/a/$ref: only local references ("#/...") are allowed',
    );
    const local = compileSchema({
      $defs: { cents: { type: "integer" } },
      properties: { amount: { $ref: "#/$defs/cents" } },
    });
    expect(local({ amount: 1.5 })).toBe(false);
    // `const` and `enum` hold instances, and an instance may well have a `$ref` member.
    const literal = compileSchema({ const: { $ref: "https://example.com/x" } });
    expect(literal({ $ref: "https://example.com/x" })).toBe(true);
  });

  it("compiles schemas sharing an $id independently (tenants do not see each other's schemas)", () => {
    const first = compileSchema({ $id: "https://example.com/order.json", type: "object" });
    const second = compileSchema({ $id: "https://example.com/order.json", type: "string" });
    expect([first({}), first("s"), second({}), second("s")]).toEqual([true, false, false, true]);
  });
});

describe("validateAgainst", () => {
  const validate = compileSchema({
    type: "object",
    properties: {
      id: { type: "integer" },
      email: { type: "string", format: "email" },
      tags: { type: "array", maxItems: 1 },
      "a/b": { type: "number" },
      name: { type: "string" },
    },
    additionalProperties: false,
  });

  it("names the JSON pointer and reason of up to three failures, and counts the rest", async () => {
    expect(() => validateAgainst(validate, { id: 1.5, email: "nope", tags: [1, 2] })).toThrow(
      'payload/id must be integer; payload/email must match format "email"; payload/tags must NOT have more than 1 items',
    );
    const error = await refusal(() =>
      validateAgainst(validate, { id: 1.5, email: "nope", tags: [1, 2], "a/b": "x", name: 3 }),
    );
    expect(error.message).toMatch(/items; and 2 more$/);
    expect(error.field).toBe("payload");
    expect(() => validateAgainst(validate, { "a/b": "x" })).toThrow("payload/a~1b must be number");
    expect(() => validateAgainst(validate, { extra: 1 })).toThrow(
      "payload must NOT have additional properties (extra)",
    );
    expect(() => validateAgainst(validate, [], "body")).toThrow(/^body must be object$/);
    expect(() => validateAgainst(validate, { id: 1, email: "a@b.co", tags: [] })).not.toThrow();
  });
});

describe("cachedSchema", () => {
  it("compiles once per key, and a new key (a new version) compiles the new schema", () => {
    const v1 = cachedSchema("cache-test:1", { type: "string" });
    expect(cachedSchema("cache-test:1", { type: "string" })).toBe(v1);
    const v2 = cachedSchema("cache-test:2", { type: "number" });
    expect([v1("s"), v2("s"), v2(1)]).toEqual([true, false, true]);
  });

  it("stays bounded, dropping the least recently used key", () => {
    const oldest = cachedSchema("lru:oldest", { type: "string" });
    const kept = cachedSchema("lru:kept", { type: "string" });
    for (let index = 0; index < 500; index++) {
      cachedSchema(`lru:filler:${index}`, { type: "object", required: [`p${index}`] });
      expect(cachedSchema("lru:kept", { type: "string" })).toBe(kept);
    }
    expect(cachedSchema("lru:oldest", { type: "string" })).not.toBe(oldest);
  });
});

describe("event types", () => {
  it("creates a type with a schema, refuses a bad schema or a taken name, and writes nothing then", async () => {
    const { headers, tenant } = await seed.tenantWithKey();
    const ok = await execute<{ createEventType: Outcome }>(
      CREATE,
      { input: { name: "invoice.paid", schema: { type: "object", required: ["amount"] } } },
      headers,
    );
    expect(ok.data?.createEventType).toMatchObject({ __typename: "EventType", name: "invoice.paid", archived: false });
    expect(ok.data?.createEventType.schema).toEqual({ type: "object", required: ["amount"] });
    const bad = await execute<{ createEventType: Outcome }>(
      CREATE,
      { input: { name: "invoice.void", schema: { type: "object", properties: { amount: { type: "money" } } } } },
      headers,
    );
    expect(bad.data?.createEventType).toMatchObject({ __typename: "ValidationError", field: "schema" });
    expect(bad.data?.createEventType.message).toMatch(/^schema\/properties\/amount\/type must be equal to one of/);
    const remote = await execute<{ createEventType: Outcome }>(
      CREATE,
      { input: { name: "invoice.remote", schema: { $ref: "https://example.com/invoice.json" } } },
      headers,
    );
    expect(remote.data?.createEventType).toMatchObject({ __typename: "ValidationError", field: "schema" });
    const taken = await execute<{ createEventType: Outcome }>(CREATE, { input: { name: "invoice.paid" } }, headers);
    expect(taken.data?.createEventType).toMatchObject({
      __typename: "ConflictError",
      code: "CONFLICT",
      field: "name",
      message: 'an event type named "invoice.paid" already exists',
    });
    const badName = await execute<{ createEventType: Outcome }>(CREATE, { input: { name: "has spaces" } }, headers);
    expect(badName.data?.createEventType).toMatchObject({ __typename: "ValidationError", field: "name" });
    const tooLong = await execute<{ createEventType: Outcome }>(CREATE, { input: { name: "a".repeat(101) } }, headers);
    expect(tooLong.data?.createEventType).toMatchObject({ __typename: "ValidationError", field: "name" });

    const names = await prisma.eventType.findMany({ where: { tenantId: tenant.id }, select: { name: true } });
    expect(names).toEqual([{ name: "invoice.paid" }]);
    const audit = await prisma.auditEntry.findMany({ where: { tenantId: tenant.id, action: "event_type.created" } });
    expect(audit.map((entry) => entry.targetId)).toEqual([uuidOf(ok.data?.createEventType.id ?? "")]);
  });

  it("updates the schema, and publishing checks payloads against the new one", async () => {
    const { headers, tenant } = await seed.tenantWithKey();
    const created = await seedEventType(tenant.id, "order.created", { type: "object", required: ["orderId"] });
    const before = await eventTypeForPublish(tenant.id, "order.created");
    expect(() => before.validate({})).toThrow("payload must have required property 'orderId'");

    const schema = { type: "object", properties: { orderId: { type: "integer" } }, required: ["orderId"] };
    const updated = await execute<{ updateEventType: Outcome }>(
      UPDATE,
      { id: gid("EventType", created.id), input: { schema } },
      headers,
    );
    expect(updated.data?.updateEventType).toMatchObject({ __typename: "EventType", schema });
    const after = await eventTypeForPublish(tenant.id, "order.created");
    expect(() => after.validate({ orderId: "42" })).toThrow(
      expect.objectContaining({ message: "payload/orderId must be integer", field: "payload" }),
    );
    expect(() => after.validate({ orderId: 42 })).not.toThrow();

    // A bad schema changes nothing; null removes the schema.
    const refused = await execute<{ updateEventType: Outcome }>(
      UPDATE,
      { id: gid("EventType", created.id), input: { schema: { type: "object", required: "orderId" } } },
      headers,
    );
    expect(refused.data?.updateEventType).toMatchObject({ __typename: "ValidationError", field: "schema" });
    expect(refused.data?.updateEventType.message).toMatch(/^schema\/required must be array/);
    expect((await prisma.eventType.findUniqueOrThrow({ where: { id: created.id } })).schema).toEqual(schema);
    const cleared = await execute<{ updateEventType: Outcome }>(
      UPDATE,
      { id: gid("EventType", created.id), input: { schema: null, description: "orders" } },
      headers,
    );
    expect(cleared.data?.updateEventType).toMatchObject({ schema: null, description: "orders" });
    expect(() => after.validate("anything")).toThrow(ValidationError);
    const unchecked = await eventTypeForPublish(tenant.id, "order.created");
    expect(() => unchecked.validate("anything")).not.toThrow();

    const audit = await prisma.auditEntry.findMany({
      where: { tenantId: tenant.id, action: "event_type.updated" },
      orderBy: { createdAt: "asc" },
    });
    expect(audit.map((entry) => [entry.targetId, entry.metadata])).toEqual([
      [created.id, { fields: ["schema"] }],
      [created.id, { fields: ["description", "schema"] }],
    ]);
  });

  it("keeps checking a schema with an $id after the type changes (it is compiled again)", async () => {
    const { tenant } = await seed.tenantWithKey();
    const schema = { $id: "https://example.com/ticket.json", type: "object", required: ["ticket"] };
    const created = await seedEventType(tenant.id, "ticket.opened", schema);
    const first = await eventTypeForPublish(tenant.id, "ticket.opened");
    expect(() => first.validate({})).toThrow("payload must have required property 'ticket'");
    await updateEventType(tenant.id, created.id, { description: "a new version, so a new cache key" }, origin);
    const again = await eventTypeForPublish(tenant.id, "ticket.opened");
    expect(() => again.validate({})).toThrow("payload must have required property 'ticket'");
  });

  it("archives idempotently; archived and unknown types cannot be published", async () => {
    const { headers, tenant } = await seed.tenantWithKey();
    const created = await seedEventType(tenant.id, "user.deleted");
    const first = await execute<{ archiveEventType: Outcome }>(ARCHIVE, { id: gid("EventType", created.id) }, headers);
    expect(first.data?.archiveEventType).toMatchObject({ __typename: "EventType", archived: true });
    const second = await execute<{ archiveEventType: Outcome }>(ARCHIVE, { id: gid("EventType", created.id) }, headers);
    expect(second.data?.archiveEventType.archivedAt).toBe(first.data?.archiveEventType.archivedAt);
    expect(await prisma.auditEntry.count({ where: { tenantId: tenant.id, action: "event_type.archived" } })).toBe(1);

    const archived = await refusal(() => eventTypeForPublish(tenant.id, "user.deleted"));
    expect([archived.message, archived.field]).toEqual(['event type "user.deleted" is archived', "eventType"]);
    const unknown = await refusal(() => eventTypeForPublish(tenant.id, "user.renamed"));
    expect(unknown.message).toMatch(/^unknown event type "user.renamed": create it first/);
    expect(unknown.field).toBe("eventType");
  });

  it("lists by name, without archived types unless asked", async () => {
    const { headers, tenant } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "b.second");
    await seedEventType(tenant.id, "a.first");
    const archived = await seedEventType(tenant.id, "c.archived");
    await execute(ARCHIVE, { id: gid("EventType", archived.id) }, headers);
    type Listed = { eventTypes: { edges: { node: { name: string; archived: boolean } }[] } };
    const listed = await execute<Listed>("{ eventTypes { edges { node { name archived } } } }", {}, headers);
    expect(listed.data?.eventTypes.edges.map((edge) => edge.node.name)).toEqual(["a.first", "b.second"]);
    const all = await execute<Listed>(
      "{ eventTypes(includeArchived: true) { edges { node { name archived } } } }",
      {},
      headers,
    );
    expect(all.data?.eventTypes.edges.map((edge) => [edge.node.name, edge.node.archived])).toEqual([
      ["a.first", false],
      ["b.second", false],
      ["c.archived", true],
    ]);
  });

  it("answers another tenant's type, or a malformed id, as NOT_FOUND and leaves it alone", async () => {
    const alice = await seed.tenantWithKey();
    const bob = await seed.tenantWithKey();
    const created = await seedEventType(alice.tenant.id, "secret.thing", { type: "object" });
    const id = gid("EventType", created.id);
    const read = await execute<{ eventType: Outcome }>(
      "query ($id: ID!) { eventType(id: $id) { __typename ... on Error { code field } } }",
      { id },
      bob.headers,
    );
    expect(read.data?.eventType).toMatchObject({ __typename: "NotFoundError", code: "NOT_FOUND", field: "id" });
    const update = await execute<{ updateEventType: Outcome }>(UPDATE, { id, input: { schema: null } }, bob.headers);
    expect(update.data?.updateEventType.__typename).toBe("NotFoundError");
    const archive = await execute<{ archiveEventType: Outcome }>(ARCHIVE, { id }, bob.headers);
    expect(archive.data?.archiveEventType.__typename).toBe("NotFoundError");
    const malformed = await execute<{ archiveEventType: Outcome }>(ARCHIVE, { id: "not-a-uuid" }, alice.headers);
    expect(malformed.data?.archiveEventType.__typename).toBe("NotFoundError");
    // Alice's own type by its row uuid, or by an id of another type: not found either.
    for (const wrong of [created.id, gid("Endpoint", created.id)]) {
      const answer = await execute<{ archiveEventType: Outcome }>(ARCHIVE, { id: wrong }, alice.headers);
      expect(answer.data?.archiveEventType.__typename).toBe("NotFoundError");
    }
    const listed = await execute<{ eventTypes: { edges: unknown[] } }>(
      "{ eventTypes(includeArchived: true) { edges { node { id } } } }",
      {},
      bob.headers,
    );
    expect(listed.data?.eventTypes.edges).toEqual([]);
    expect((await refusal(() => eventTypeForPublish(bob.tenant.id, "secret.thing"))).message).toMatch(/^unknown/);

    expect(await prisma.eventType.findUniqueOrThrow({ where: { id: created.id } })).toMatchObject({
      schema: { type: "object" },
      archivedAt: null,
    });
    expect(
      await prisma.auditEntry.count({ where: { tenantId: bob.tenant.id, action: { startsWith: "event_type." } } }),
    ).toBe(0);
    const mine = await execute<{ eventType: Outcome }>(
      "query ($id: ID!) { eventType(id: $id) { __typename } }",
      { id },
      alice.headers,
    );
    expect(mine.data?.eventType.__typename).toBe("EventType");
  });
});

describe("validatePayload", () => {
  const VALIDATE = `query ($schema: JSON!, $payload: JSON!) { validatePayload(schema: $schema, payload: $payload) {
    __typename ... on PayloadValid { valid } ... on Error { code field message } } }`;

  it("checks an example payload against a schema without saving anything, naming the field at fault", async () => {
    const { tenant, headers } = await seed.tenantWithKey({ scopes: ["agents:read"] });
    const schema = { type: "object", required: ["id"], properties: { id: { type: "integer" } } };
    const check = async (variables: Record<string, unknown>) =>
      (await execute<{ validatePayload: Outcome & { valid?: boolean } }>(VALIDATE, variables, headers)).data
        ?.validatePayload;

    expect(await check({ schema, payload: { id: 1 } })).toEqual({ __typename: "PayloadValid", valid: true });
    expect(await check({ schema, payload: { id: "1" } })).toMatchObject({
      __typename: "ValidationError",
      field: "payload",
      message: expect.stringMatching(/^payload\/id must be integer/),
    });
    expect(await check({ schema: { type: "nonsense" }, payload: {} })).toMatchObject({
      __typename: "ValidationError",
      field: "schema",
    });
    expect(await prisma.eventType.count({ where: { tenantId: tenant.id } })).toBe(0);
  });
});
