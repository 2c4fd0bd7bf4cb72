import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { pool } from "../../src/db/prisma.js";
import { SETTINGS_CHANNEL } from "../../src/modules/settings/settings.service.js";
import { portBelowEphemeralRange } from "../support/ports.js";
import { runSignalpost, servingPort } from "../support/process.js";
import { postGraphQL } from "../support/recovery.js";
import { seed, seedEventType } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

const common = {
  DATABASE_URL: process.env.DATABASE_URL,
  HOST: "127.0.0.1",
  PORT: "0",
  SIGNALPOST_ALLOW_INSECURE_URLS: "true",
};
const api = runSignalpost(["serve", "--role", "api"], common);
const worker = runSignalpost(["serve", "--role", "worker"], { ...common, SIGNALPOST_METRICS_ENABLED: "false" });
let apiPort: number;
let receiver: TestReceiver;

beforeAll(async () => {
  apiPort = await servingPort(api);
  await worker.waitForLog((entry) => entry.msg === "job queue started");
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  api.child.kill("SIGTERM");
  worker.child.kill("SIGTERM");
  await Promise.all([api.exited, worker.exited]);
  await receiver.close();
});

async function metricsAnswer(port: number): Promise<number> {
  return fetch(`http://127.0.0.1:${port}/metrics`).then(
    (response) => response.status,
    () => 0,
  );
}

describe("the notification connection terminated by the server", () => {
  it("reconnects: a settings change made right after applies, and a cross-process subscription still receives", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const created = await postGraphQL<{ createEndpoint: { endpoint: { id: string } } }>(
      apiPort,
      headers,
      `mutation ($url: String!) { createEndpoint(input: { name: "n", url: $url }) {
        ... on CreatedEndpoint { endpoint { id } } } }`,
      { url: receiver.url },
    );
    const endpointId = created.data?.createEndpoint.endpoint.id;
    const publish = (n: number) =>
      postGraphQL(
        apiPort,
        headers,
        `mutation ($n: Int!) { publishEvent(input: { eventType: "order.created", payload: { n: $n } }) { __typename } }`,
        { n },
      );

    // Delivery updates are produced by the worker and reach the api's subscribers through NOTIFY.
    const succeeded: string[] = [];
    const client = createClient({
      url: `ws://127.0.0.1:${apiPort}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: headers.authorization },
    });
    client.subscribe<{ deliveryUpdated: { status: string; event: { id: string } } }>(
      {
        query: `subscription ($id: ID) { deliveryUpdated(endpointId: $id) { status event { id } } }`,
        variables: { id: endpointId },
      },
      {
        next: (result) => {
          if (result.data?.deliveryUpdated.status === "SUCCEEDED") succeeded.push(result.data.deliveryUpdated.event.id);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
    // The subscription is live once an update reaches it (publish until one does: it may not be registered yet).
    await until(
      async () => {
        await publish(0);
        return succeeded.length;
      },
      (count) => count > 0,
      "a first delivery update",
    );

    const { rows: terminated } = await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'signalpost-listen' AND datname = current_database()`,
    );
    // Changed at once, before either process could have listened again: the notification itself is lost.
    const metricsPort = await portBelowEphemeralRange();
    await pool.query(
      `INSERT INTO "InstanceSettings" (id, values, "updatedAt") VALUES (1, $1, now())
       ON CONFLICT (id) DO UPDATE SET values = EXCLUDED.values, "updatedAt" = now()`,
      [JSON.stringify({ metricsPort })],
    );
    await pool.query("SELECT pg_notify($1, '')", [SETTINGS_CHANNEL]);

    await until(
      () => metricsAnswer(metricsPort),
      (status) => status === 200,
      "the api's metrics on the new port",
    );
    await until(
      async () =>
        (
          await pool.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
             WHERE application_name = 'signalpost-listen' AND datname = current_database()`,
          )
        ).rows[0].n as number,
      (count) => count === 2,
      "both processes listening again",
    );
    const before = succeeded.length;
    await publish(1);
    await until(
      async () => succeeded.length,
      (count) => count > before,
      "a delivery update after the reconnect",
    );
    await client.dispose();
    // One shared connection per process for every channel (there were up to five each).
    expect(terminated).toHaveLength(2);
  });
});
