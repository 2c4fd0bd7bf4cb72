import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { portBelowEphemeralRange } from "../support/ports.js";
import { runSignalpost, servingPort } from "../support/process.js";
import { findPromtool, promtoolCheckMetrics } from "../support/promtool.js";
import { seed, seedEventType } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

const promtool = findPromtool();
if (promtool.skipReason) console.warn(`metric-name check skipped: ${promtool.skipReason}`);
const firstMetricsPort = await portBelowEphemeralRange();
const common = {
  DATABASE_URL: process.env.DATABASE_URL,
  HOST: "127.0.0.1",
  PORT: "0",
  SIGNALPOST_ALLOW_INSECURE_URLS: "true",
};
// The API process serves metrics; the worker's are off so the two never race for the same port when it moves.
const api = runSignalpost(["serve", "--role", "api"], { ...common, SIGNALPOST_METRICS_PORT: String(firstMetricsPort) });
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

async function graphql<T>(headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`http://127.0.0.1:${apiPort}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data as T;
}

/** Prometheus text exposition format, line by line: comments (HELP/TYPE) and samples `name{labels} value`. */
function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)( -?\d+)?$/;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const match = sample.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ""}`, Number(match[3]));
  }
  return samples;
}

describe("an api process and a worker process on one database", () => {
  it("delivers through the worker an event published on the api, seen live by the api's subscribers", async () => {
    const { tenant, headers } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const created = await graphql<{ createEndpoint: { endpoint: { id: string } } }>(
      headers,
      `mutation ($url: String!) { createEndpoint(input: { name: "e2e", url: $url }) {
        ... on CreatedEndpoint { endpoint { id } } } }`,
      { url: receiver.url },
    );
    const endpointId = created.createEndpoint.endpoint.id;

    // The api is another process: what this one can see of its subscriptions is the gauge it serves.
    const openSubscriptions = async () =>
      (
        await until(
          async () => parsePrometheusText(await (await fetch(`http://127.0.0.1:${firstMetricsPort}/metrics`)).text()),
          (samples) => samples.has("signalpost_subscriptions_open"),
          "the subscriptions gauge",
        )
      ).get("signalpost_subscriptions_open") ?? 0;
    const openBefore = await openSubscriptions();
    const updates: { status: string }[] = [];
    const consoleKinds: string[] = [];
    const client = createClient({
      url: `ws://127.0.0.1:${apiPort}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: headers.authorization },
    });
    const sink = <T>(push: (value: T) => void) => ({
      next: (result: { data?: T | null }) => result.data && push(result.data),
      error: () => undefined,
      complete: () => undefined,
    });
    client.subscribe<{ deliveryUpdated: { status: string } }>(
      {
        query: `subscription ($id: ID) { deliveryUpdated(endpointId: $id) { status } }`,
        variables: { id: endpointId },
      },
      sink((data) => updates.push(data.deliveryUpdated)),
    );
    // `last` replays the tenant's recent lines first, so the line is seen whether it comes before or after joining.
    client.subscribe<{ consoleEvents: { kind: string } }>(
      { query: "subscription { consoleEvents(last: 20) { kind } }" },
      sink((data) => consoleKinds.push(data.consoleEvents.kind)),
    );
    // Both operations have reached the api (deliveryUpdated listens once its resolver has run, right after).
    await until(openSubscriptions, (open) => open >= openBefore + 2, "both subscriptions on the api");

    await graphql(
      headers,
      `mutation { publishEvent(input: { eventType: "order.created", payload: { n: 1 } }) { __typename } }`,
    );
    await receiver.waitForRequests(1);
    await until(
      async () => updates,
      (seen) => seen.some((u) => u.status === "SUCCEEDED"),
      "deliveryUpdated",
    );
    await until(
      async () => consoleKinds,
      (seen) => seen.includes("ATTEMPT_SUCCEEDED"),
      "the console line",
    );
    await client.dispose();
  });

  it.skipIf(promtool.skipReason)("serves metric names that Prometheus' own checker accepts", async () => {
    // After the first test, histograms, labelled counters and the queue gauges all have samples to check.
    const text = await until(
      async () => (await fetch(`http://127.0.0.1:${firstMetricsPort}/metrics`)).text(),
      (body) => body.includes("signalpost_graphql_request_duration_seconds_count"),
      "metrics with the first test's queries",
    );
    const checked = await promtoolCheckMetrics(promtool.path as string, text);
    expect(checked.output.trim(), "promtool check metrics").toBe("");
    expect(checked.code).toBe(0);
    expect(text).not.toMatch(/^signalpost_nodejs_active_\w+_total/m);
    expect(text).toMatch(/^signalpost_nodejs_active_handles\{/m);
  });

  it("serves /metrics as Prometheus text and moves the listener when the setting changes", async () => {
    const { headers } = await seed.tenantWithKey({ scopes: ["admin", "instance:admin"] });
    const scrape = async (port: number) => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.headers.get("content-type")).toContain("text/plain");
      return parsePrometheusText(await response.text());
    };
    const metrics = await until(
      () => scrape(firstMetricsPort),
      (samples) => samples.size > 0,
      "metrics on the first port",
    );
    for (const name of [
      "signalpost_process_resident_memory_bytes",
      "signalpost_queue_depth",
      "signalpost_queue_oldest_pending_age_seconds",
      "signalpost_subscriptions_open",
    ])
      expect(metrics.has(name), name).toBe(true);
    // The first test's queries were timed.
    expect([...metrics.keys()].some((key) => key.startsWith("signalpost_graphql_request_duration_seconds_count"))).toBe(
      true,
    );

    const nextPort = await portBelowEphemeralRange();
    const moved = await graphql<{ updateSettings: { instance: { metricsPort: number } } }>(
      headers,
      `mutation ($port: Int!) { updateSettings(input: { metricsPort: $port }) {
        ... on Settings { instance { metricsPort } } } }`,
      { port: nextPort },
    );
    expect(moved.updateSettings.instance.metricsPort).toBe(nextPort);
    await until(
      () => scrape(nextPort).catch(() => new Map()),
      (samples) => samples.size > 0,
      "metrics on the new port",
    );
    await expect(fetch(`http://127.0.0.1:${firstMetricsPort}/metrics`)).rejects.toThrow();
    const listener = await graphql<{ settings: { instance: { metricsListener: { boundPort: number } } } }>(
      headers,
      "{ settings { instance { metricsListener { boundPort error } } } }",
    );
    expect(listener.settings.instance.metricsListener.boundPort).toBe(nextPort);
  });
});
