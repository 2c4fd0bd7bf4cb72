import { isObjectType } from "graphql";
import { describe, expect, it } from "vitest";
import { grants, INSTANCE_ADMIN, SCOPES, type Scope } from "../../src/modules/identity/scopes.js";
import { schema } from "../../src/schema.js";
import { execute } from "../support/graphql.js";
import { seed } from "../support/seed.js";

/**
 * Every root field with the scope it needs and an operation that exercises it. The first test fails when a root
 * field is added without an entry here, so no field escapes the matrix. `null` marks the few public fields.
 */
const MATRIX: Record<string, { scope: Scope | "authenticated" | null; operation: string }> = {
  "Query.serverInfo": { scope: null, operation: "{ serverInfo { version } }" },
  "Query.viewer": { scope: "authenticated", operation: "{ viewer { scopes } }" },
  "Query.node": { scope: "authenticated", operation: `{ node(id: "bm8") { id } }` },
  "Query.nodes": { scope: "authenticated", operation: `{ nodes(ids: ["bm8"]) { id } }` },
  "Query.apiKeys": { scope: "keys:read", operation: "{ apiKeys { edges { node { id } } } }" },
  "Query.apiKey": {
    scope: "keys:read",
    operation: `{ apiKey(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Query.auditLog": { scope: "audit:read", operation: "{ auditLog { edges { node { id } } } }" },
  "Mutation.createApiKey": {
    scope: "keys:write",
    operation: `mutation { createApiKey(input: { name: "m", scopes: [KEYS_WRITE] }) { __typename } }`,
  },
  "Mutation.revokeApiKey": {
    scope: "keys:write",
    operation: `mutation { revokeApiKey(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.createSession": { scope: "authenticated", operation: "mutation { createSession { __typename } }" },
  "Query.endpoints": { scope: "endpoints:read", operation: "{ endpoints { edges { node { id } } } }" },
  "Query.endpoint": {
    scope: "endpoints:read",
    operation: `{ endpoint(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Query.eventTypes": { scope: "endpoints:read", operation: "{ eventTypes { edges { node { id } } } }" },
  "Query.validatePayload": {
    scope: "authenticated",
    operation: `{ validatePayload(schema: { type: "object" }, payload: {}) { __typename } }`,
  },
  "Query.eventType": {
    scope: "endpoints:read",
    operation: `{ eventType(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Query.event": {
    scope: "deliveries:read",
    operation: `{ event(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Query.events": { scope: "deliveries:read", operation: "{ events { edges { node { id } } } }" },
  "Query.deliveries": { scope: "deliveries:read", operation: "{ deliveries { __typename } }" },
  "Query.deliveryAttempts": { scope: "deliveries:read", operation: "{ deliveryAttempts { __typename } }" },
  "Query.delivery": {
    scope: "deliveries:read",
    operation: `{ delivery(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Query.exportDeliveries": { scope: "deliveries:read", operation: "{ exportDeliveries { __typename } }" },
  "Mutation.createEndpoint": {
    scope: "endpoints:write",
    operation: `mutation { createEndpoint(input: { name: "m", url: "https://example.com/hook" }) { __typename } }`,
  },
  "Mutation.updateEndpoint": {
    scope: "endpoints:write",
    operation: `mutation { updateEndpoint(id: "00000000-0000-0000-0000-000000000000", input: { name: "x" }) { __typename } }`,
  },
  "Mutation.deleteEndpoint": {
    scope: "endpoints:write",
    operation: `mutation { deleteEndpoint(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.disableEndpoint": {
    scope: "endpoints:write",
    operation: `mutation { disableEndpoint(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.enableEndpoint": {
    scope: "endpoints:write",
    operation: `mutation { enableEndpoint(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.revealEndpointHeaders": {
    scope: "secrets:reveal",
    operation: `mutation { revealEndpointHeaders(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.revealEndpointSecret": {
    scope: "secrets:reveal",
    operation: `mutation { revealEndpointSecret(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.revealEndpointUrl": {
    scope: "secrets:reveal",
    operation: `mutation { revealEndpointUrl(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.rotateEndpointSecret": {
    scope: "endpoints:write",
    operation: `mutation { rotateEndpointSecret(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.createEventType": {
    scope: "endpoints:write",
    operation: `mutation { createEventType(input: { name: "matrix.test" }) { __typename } }`,
  },
  "Mutation.updateEventType": {
    scope: "endpoints:write",
    operation: `mutation { updateEventType(id: "00000000-0000-0000-0000-000000000000", input: { description: "d" }) { __typename } }`,
  },
  "Mutation.archiveEventType": {
    scope: "endpoints:write",
    operation: `mutation { archiveEventType(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.publishEvent": {
    scope: "events:publish",
    operation: `mutation { publishEvent(input: { eventType: "nope", payload: {} }) { __typename } }`,
  },
  "Mutation.publishEvents": {
    scope: "events:publish",
    operation: `mutation { publishEvents(events: [{ eventType: "nope", payload: 1 }]) { __typename } }`,
  },
  "Mutation.cancelScheduledEvent": {
    scope: "events:publish",
    operation: `mutation { cancelScheduledEvent(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.retryDelivery": {
    scope: "deliveries:write",
    operation: `mutation { retryDelivery(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.recoverEndpoint": {
    scope: "deliveries:write",
    operation: `mutation { recoverEndpoint(endpointId: "00000000-0000-0000-0000-000000000000", since: "2020-01-01T00:00:00Z") { __typename } }`,
  },
  "Mutation.sendTestEvent": {
    scope: "endpoints:write",
    operation: `mutation { sendTestEvent(endpointId: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.sendTestEventToAll": {
    scope: "endpoints:write",
    operation: "mutation { sendTestEventToAll { endpoint { id } } }",
  },
  "Query.agents": { scope: "agents:read", operation: "{ agents { edges { node { id } } } }" },
  "Query.agent": {
    scope: "agents:read",
    operation: `{ agent(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Query.agentExecutions": { scope: "agents:read", operation: "{ agentExecutions { edges { node { id } } } }" },
  "Query.agentExecution": {
    scope: "agents:read",
    operation: `{ agentExecution(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Query.examplePayloadSchemas": { scope: "agents:read", operation: "{ examplePayloadSchemas { name } }" },
  "Mutation.createAgent": {
    scope: "agents:write",
    operation: `mutation { createAgent(input: { name: "m" }) { __typename } }`,
  },
  "Mutation.updateAgent": {
    scope: "agents:write",
    operation: `mutation { updateAgent(id: "00000000-0000-0000-0000-000000000000", input: { name: "x" }) { __typename } }`,
  },
  "Mutation.deleteAgent": {
    scope: "agents:write",
    operation: `mutation { deleteAgent(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.revealAgentSecret": {
    scope: "secrets:reveal",
    operation: `mutation { revealAgentSecret(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.regenerateAgentSecret": {
    scope: "agents:write",
    operation: `mutation { regenerateAgentSecret(id: "00000000-0000-0000-0000-000000000000") { __typename } }`,
  },
  "Mutation.sendTestWebhook": {
    scope: "agents:write",
    operation: `mutation { sendTestWebhook(agentId: "00000000-0000-0000-0000-000000000000", payload: {}) { __typename } }`,
  },
  "Subscription.heartbeat": { scope: null, operation: "" },
  // Subscriptions are checked over WebSocket in the agents tests; here only their declared scope.
  "Subscription.agentWebhookReceived": { scope: "agents:read", operation: "" },
  "Subscription.agentExecutionUpdated": { scope: "agents:read", operation: "" },
  "Subscription.deliveryUpdated": { scope: "deliveries:read", operation: "" },
  "Subscription.consoleEvents": { scope: "console:read", operation: "" },
  "Subscription.eventPublished": { scope: "deliveries:read", operation: "" },
  "Query.settings": { scope: "settings:read", operation: "{ settings { tenant { consoleRetentionDays } } }" },
  "Mutation.updateSettings": {
    scope: "settings:write",
    operation: "mutation { updateSettings(input: { consoleRetentionDays: 7 }) { __typename } }",
  },
  "Subscription.endpointHealthChanged": { scope: "endpoints:read", operation: "" },
};

function rootFields(): string[] {
  const fields: string[] = [];
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    if (!root) continue;
    for (const name of Object.keys(root.getFields())) fields.push(`${root.name}.${name}`);
  }
  return fields.sort();
}

/** The authScopes Pothos recorded for a root field (what the scope-auth plugin enforces). */
function declaredScopes(coordinate: string): unknown {
  const [typeName, fieldName] = coordinate.split(".") as [string, string];
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
  const field = type.getFields()[fieldName];
  return (field?.extensions as { pothosOptions?: { authScopes?: unknown; skipTypeScopes?: boolean } })?.pothosOptions;
}

describe("scope matrix", () => {
  it("covers every root field of the schema", () => {
    expect(Object.keys(MATRIX).sort()).toEqual(rootFields());
  });

  it("declares in the schema exactly the scope the matrix expects (deny by default)", () => {
    for (const [coordinate, entry] of Object.entries(MATRIX)) {
      const options = declaredScopes(coordinate) as { authScopes?: Record<string, unknown>; skipTypeScopes?: boolean };
      if (entry.scope === null) {
        expect(options.skipTypeScopes, coordinate).toBe(true);
        expect(options.authScopes, coordinate).toEqual({ public: true });
      } else if (entry.scope === "authenticated") {
        expect(options.skipTypeScopes, coordinate).toBeFalsy();
        expect(options.authScopes, coordinate).toBeUndefined();
      } else {
        expect(options.skipTypeScopes, coordinate).toBeFalsy();
        expect(options.authScopes, coordinate).toEqual({ scope: entry.scope });
      }
    }
  });

  it("admin implies every scope but the operator's instance:admin, which implies only the settings scopes", () => {
    for (const scope of SCOPES) {
      expect(grants(["admin"], scope), scope).toBe(scope !== INSTANCE_ADMIN);
      expect(grants([INSTANCE_ADMIN], scope), scope).toBe(
        scope === INSTANCE_ADMIN || scope === "settings:read" || scope === "settings:write",
      );
    }
  });

  const protectedEntries = Object.entries(MATRIX).filter(([, entry]) => entry.scope !== null && entry.operation);

  it.each(protectedEntries)("%s: anonymous callers get UNAUTHENTICATED", async (_coordinate, entry) => {
    const result = await execute(entry.operation);
    expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it.each(protectedEntries.filter(([, entry]) => entry.scope !== "authenticated"))(
    "%s: FORBIDDEN without its scope, allowed with only that scope",
    async (_coordinate, entry) => {
      const scope = entry.scope as Scope;
      // A key with every scope but the needed one (and not admin).
      const others = (["keys:read", "keys:write", "audit:read", "endpoints:read", "agents:read"] as Scope[]).filter(
        (s) => s !== scope,
      );
      const without = await seed.tenantWithKey({ scopes: others });
      const refused = await execute(entry.operation, {}, without.headers);
      expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

      const withOnly = await seed.tenantWithKey({ scopes: [scope] });
      const allowed = await execute(entry.operation, {}, withOnly.headers);
      expect(allowed.errors).toBeUndefined();

      const admin = await seed.tenantWithKey({ scopes: ["admin"] });
      expect((await execute(entry.operation, {}, admin.headers)).errors).toBeUndefined();
    },
  );
});
