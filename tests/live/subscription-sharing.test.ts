import {
  type GraphQLNamedType,
  type GraphQLType,
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isUnionType,
} from "graphql";
import type { Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subscriptionResultsTotal } from "../../src/lib/metrics.js";
import { publishEvents } from "../../src/modules/events/events.service.js";
import { schema } from "../../src/schema.js";
import { type RunningApiServer, startLiveApiServer } from "../support/api-server.js";
import { testServices } from "../support/graphql.js";
import { seed, seedEventType } from "../support/seed.js";
import { subscribeOnOwnSocket, subscribersJoined } from "../support/subscribers.js";
import { until } from "../support/wait.js";

/**
 * Execute once, send many (src/graphql/shared-subscription-execution.ts): subscribers of one audience (tenant,
 * scopes, operation, variables) share one execution of each event; any difference executes on its own; and nothing
 * the shared execution could read belongs to one credential rather than its tenant and scopes.
 */

let api: RunningApiServer;
beforeAll(async () => {
  api = await startLiveApiServer();
});
afterAll(async () => {
  await api.close();
});

const EVENT_PUBLISHED = `subscription { eventPublished { eventId eventType body } }`;
type Published = { eventPublished: { eventId: string; eventType: string; body: string } };

/** One client (its own socket) per subscription; what each receives lands in its array. */
function subscribers(token: string, query: string, count: number, variables: Record<string, unknown> = {}) {
  const received = Array.from({ length: count }, (): Published[] => []);
  const errors: unknown[] = [];
  const clients: Client[] = received.map((into) =>
    subscribeOnOwnSocket<Published>(
      api.wsUrl,
      token,
      { query, variables },
      {
        result: (result) => {
          if (result.data) into.push(result.data);
          if (result.errors) errors.push(...result.errors);
        },
        error: (error) => errors.push(error),
      },
    ),
  );
  return { received, errors, clients };
}

async function results(): Promise<{ executed: number; shared: number }> {
  const { values } = await subscriptionResultsTotal.get();
  const of = (made: string) => values.find((value) => value.labels.made === made)?.value ?? 0;
  return { executed: of("executed"), shared: of("shared") };
}

const disposeAll = (clients: Client[]) => Promise.all(clients.map((client) => client.dispose()));

describe("shared subscription execution", () => {
  it("executes one event once for 50 subscribers of one audience, and once more per scope set or document", async () => {
    const { tenant, token } = await seed.tenantWithKey();
    const reader = await seed.keyFor(tenant, { scopes: ["deliveries:read"] });
    await seedEventType(tenant.id, "order.created");
    const same = subscribers(token, EVENT_PUBLISHED, 50);
    const otherScopes = subscribers(reader.token, EVENT_PUBLISHED, 3);
    const otherDocument = subscribers(token, `subscription { eventPublished { eventId } }`, 3);
    await subscribersJoined("event:published", tenant.id, 56);

    const before = await results();
    const [published] = await publishEvents(tenant.id, [{ eventType: "order.created", payload: { n: 1 } }], true);
    const all = [...same.received, ...otherScopes.received, ...otherDocument.received];
    await until(
      async () => all.map((into) => into.length),
      (counts) => counts.every((n) => n === 1),
      "every subscriber's event",
    );
    const after = await results();
    await disposeAll([...same.clients, ...otherScopes.clients, ...otherDocument.clients]);

    expect([same.errors, otherScopes.errors, otherDocument.errors]).toEqual([[], [], []]);
    // Three audiences: admin with the full document, deliveries:read with it, admin with the smaller document.
    expect(after.executed - before.executed).toBe(3);
    expect(after.shared - before.shared).toBe(53);
    for (const into of [...same.received, ...otherScopes.received]) {
      expect(into[0]?.eventPublished.eventType).toBe("order.created");
      expect(JSON.parse(into[0]?.eventPublished.body ?? "null").data).toEqual({ n: 1 });
    }
    for (const into of otherDocument.received) expect(Object.keys(into[0]?.eventPublished ?? {})).toEqual(["eventId"]);
    expect(new Set(all.map((into) => into[0]?.eventPublished.eventId))).toEqual(
      new Set([same.received[0]?.[0]?.eventPublished.eventId]),
    );
    expect(published?.event.id).toBeDefined();
  });

  it("executes separately for different variables", async () => {
    const { tenant, token } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const query = `subscription ($types: [String!]) { eventPublished(eventTypes: $types) { eventId } }`;
    const filtered = subscribers(token, query, 2, { types: ["order.created"] });
    const unfiltered = subscribers(token, query, 2, {});
    await subscribersJoined("event:published", tenant.id, 4);
    const before = await results();
    await publishEvents(tenant.id, [{ eventType: "order.created", payload: {} }], true);
    const all = [...filtered.received, ...unfiltered.received];
    await until(
      async () => all.map((into) => into.length),
      (counts) => counts.every((n) => n === 1),
      "every subscriber's event",
    );
    const after = await results();
    await disposeAll([...filtered.clients, ...unfiltered.clients]);
    expect(after.executed - before.executed).toBe(2);
    expect(after.shared - before.shared).toBe(2);
  });

  it("lets an idle subscriber go at once when it completes, not at the next event", async () => {
    const { tenant, token } = await seed.tenantWithKey();
    const { clients } = subscribers(token, EVENT_PUBLISHED, 1);
    await subscribersJoined("event:published", tenant.id, 1);
    await disposeAll(clients);
    await until(
      async () => testServices.subscriptions?.subscriberCount("event:published", tenant.id) ?? -1,
      (count) => count === 0,
      "the subscription's listener to go",
    );
  });

  it("answers variables of the wrong type with BAD_USER_INPUT, as queries are answered", async () => {
    const { token } = await seed.tenantWithKey();
    const query = `subscription ($types: [String!]) { eventPublished(eventTypes: $types) { eventId } }`;
    const wrong = subscribers(token, query, 1, { types: [{ not: "a string" }] });
    await until(
      async () => wrong.errors.length,
      (count) => count > 0,
      "the refusal",
    );
    await disposeAll(wrong.clients);
    expect(wrong.errors).toMatchObject([{ extensions: { code: "BAD_USER_INPUT" } }]);
  });

  it("reaches no type that holds one credential's own fields from any subscription", () => {
    // Shared execution hands one subscriber's context to the others of its audience: only tenant and scopes may
    // matter. The Viewer type (method, key, actor, expiry) is the one whose fields read the credential itself.
    const reachable = new Set<string>();
    const visit = (type: GraphQLNamedType) => {
      if (reachable.has(type.name)) return;
      reachable.add(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) visit(getNamedType(field.type as GraphQLType));
      }
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields()))
          for (const arg of field.args) visit(getNamedType(arg.type) as GraphQLNamedType);
      }
      if (isInterfaceType(type)) for (const implementation of schema.getPossibleTypes(type)) visit(implementation);
      if (isUnionType(type)) for (const member of type.getTypes()) visit(member);
    };
    const subscription = schema.getSubscriptionType();
    expect(subscription).toBeTruthy();
    if (subscription) visit(subscription);
    expect(reachable.has("OutboundEvent")).toBe(true);
    expect(reachable.has("Viewer")).toBe(false);
    expect(reachable.has("Query")).toBe(false);
  });
});
