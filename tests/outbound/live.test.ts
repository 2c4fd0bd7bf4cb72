import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningApiServer, startLiveApiServer } from "../support/api-server.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";
import { subscribersJoined } from "../support/subscribers.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

let api: RunningApiServer;
let delivering: Delivering;
let receiver: TestReceiver;
beforeAll(async () => {
  api = await startLiveApiServer();
  delivering = await startDelivering();
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  await receiver.close();
  await delivering.stop();
  await api.close();
});

type Update = { deliveryUpdated: { id: string; status: string; endpoint: { id: string } } };

function subscribe(authorization: string, variables: Record<string, unknown>, into: Update["deliveryUpdated"][]) {
  const client = createClient({
    url: api.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization },
  });
  client.subscribe<Update>(
    {
      query: `subscription ($endpointId: ID, $eventId: ID) { deliveryUpdated(endpointId: $endpointId, eventId: $eventId) { id status endpoint { id } } }`,
      variables,
    },
    {
      next: (result) => result.data && into.push(result.data.deliveryUpdated),
      error: () => undefined,
      complete: () => undefined,
    },
  );
  return client;
}

describe("deliveryUpdated", () => {
  it("streams the tenant's recorded attempts, filtered by endpoint, and nothing to other tenants", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const outbound = outboundApi(headers);
    const watched = await outbound.createEndpoint({ url: receiver.url });
    await outbound.createEndpoint({ url: receiver.url });
    const stranger = await seed.tenantWithKey();

    const updates: Update["deliveryUpdated"][] = [];
    const everyUpdate: Update["deliveryUpdated"][] = [];
    const strangerUpdates: Update["deliveryUpdated"][] = [];
    const clients = [
      subscribe(headers.authorization as string, { endpointId: watched.id }, updates),
      subscribe(headers.authorization as string, {}, everyUpdate),
      subscribe(stranger.headers.authorization as string, {}, strangerUpdates),
    ];
    await subscribersJoined("delivery:updated", tenant.id, 2);
    await subscribersJoined("delivery:updated", stranger.tenant.id);
    const published = await outbound.publish({ eventType: "order.created", payload: { n: 1 } });
    expect(published.deliveryCount).toBe(2);
    // Both endpoints' updates have been announced (the unfiltered subscription saw them)...
    await until(
      async () => everyUpdate.length,
      (n) => n >= 2,
      "both endpoints' updates",
    );
    // ...so a second event's update, which must arrive after them, ends the wait for a (wrong) first-event update.
    await outbound.publish({ eventType: "order.created", payload: { n: 2 } });
    await until(
      async () => updates.length,
      (n) => n >= 2,
      "the second event's update",
    );
    await Promise.all(clients.map((client) => client.dispose()));

    expect(updates).toHaveLength(2);
    expect(updates[0]).toMatchObject({ status: "SUCCEEDED", endpoint: { id: watched.id } });
    expect(updates[1]).toMatchObject({ status: "SUCCEEDED", endpoint: { id: watched.id } });
    expect(strangerUpdates).toHaveLength(0);
  });
});
