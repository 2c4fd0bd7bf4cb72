import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { gid, uuidOf } from "../support/ids.js";
import type { SignalpostProcess } from "../support/process.js";
import type { SeededKey } from "../support/seed.js";
import { type ServedInstance, startServedInstance } from "../support/served-instance.js";
import type { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

/**
 * A request's id (its x-request-id, or one the server makes) is answered back, carried by every log line the request
 * writes, and stored with the audit entries and events it causes, so the deliveries of what it published lead back
 * to it. Against a real server process, reading its real log lines.
 */

let served: ServedInstance;
let server: SignalpostProcess;
let baseUrl: string;
let receiver: TestReceiver;
let admin: SeededKey;

beforeAll(async () => {
  served = await startServedInstance();
  ({ server, baseUrl, receiver, admin } = served);
});
afterAll(async () => {
  await served?.close();
});

async function graphql(query: string, variables: Record<string, unknown>, requestId?: string) {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...admin.headers,
      ...(requestId === undefined ? {} : { "x-request-id": requestId }),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data: Record<string, unknown>; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return { requestId: response.headers.get("x-request-id"), data: body.data };
}

describe("request ids", () => {
  it("follow a request into its log lines, its audit entry, its event and that event's delivery", async () => {
    const created = await graphql(
      `mutation ($url: String!) { createEndpoint(input: { name: "traced", url: $url }) {
        ... on CreatedEndpoint { endpoint { id } } } }`,
      { url: receiver.url },
      "support-ticket-4711.create",
    );
    expect(created.requestId).toBe("support-ticket-4711.create");
    const published = await graphql(
      `mutation { publishEvent(input: { eventType: "order.created", payload: { n: 1 } }) {
        ... on PublishedEvent { event { id requestId } } } }`,
      {},
      "support-ticket-4711.publish",
    );
    expect(published.requestId).toBe("support-ticket-4711.publish");
    const event = (published.data.publishEvent as { event: { id: string; requestId: string } }).event;
    expect(event.requestId).toBe("support-ticket-4711.publish");

    // The lines the request wrote (yoga logs each stage at debug) name it.
    const lines = server.logs().filter((line) => line.requestId === "support-ticket-4711.publish");
    expect(lines.length).toBeGreaterThan(0);

    const audit = await graphql(
      `{ auditLog(filter: { actions: ["endpoint.created"] }) { edges { node { requestId targetId } } } }`,
      {},
    );
    const entries = (audit.data.auditLog as { edges: { node: { requestId: string; targetId: string } }[] }).edges;
    const endpointId = (created.data.createEndpoint as { endpoint: { id: string } }).endpoint.id;
    expect(entries.find((edge) => edge.node.targetId === endpointId)?.node.requestId).toBe(
      "support-ticket-4711.create",
    );

    const delivery = await until(
      () => prisma.delivery.findFirst({ where: { eventId: uuidOf(event.id) } }),
      (found) => found?.status === "SUCCEEDED",
      "the delivery to succeed",
    );
    const traced = await graphql(`query ($id: ID!) { node(id: $id) { ... on Delivery { event { requestId } } } }`, {
      id: gid("Delivery", delivery?.id as string),
    });
    expect(traced.data.node).toEqual({ event: { requestId: "support-ticket-4711.publish" } });
  });

  it("are made when none is given, and replace one that is too long or could split a line", async () => {
    for (const given of [undefined, "x".repeat(129), "two words", "new\u00e9line"]) {
      const response = await fetch(`${baseUrl}/healthz`, {
        headers: given === undefined ? {} : { "x-request-id": given },
      });
      expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
    const longest = "y".repeat(128);
    const kept = await fetch(`${baseUrl}/healthz`, { headers: { "x-request-id": longest } });
    expect(kept.headers.get("x-request-id")).toBe(longest);
  });

  it("reach the inbound route's refusal lines", async () => {
    const response = await fetch(`${baseUrl}/agents/00000000-0000-0000-0000-000000000000/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "inbound-trace-1" },
      body: "{}",
    });
    expect(response.status).toBe(404);
    expect(response.headers.get("x-request-id")).toBe("inbound-trace-1");
    await server.waitForLog((line) => line.requestId === "inbound-trace-1", 10_000);
  });
});
