import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import type { Resolver } from "../../src/lib/http-client.js";
import { execute } from "../support/graphql.js";
import { gid, uuidOf } from "../support/ids.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { runSignalpost } from "../support/process.js";
import { seed, seedEventType } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

// DNS answers for names that cannot exist here (the only mock): a name that resolves to a private address.
const lookup: Resolver = async (hostname) => {
  if (hostname === "rebinding.test") return [{ address: "10.0.0.9", family: 4 }];
  if (hostname === "receiver.test") return [{ address: "127.0.0.1", family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
};

let delivering: Delivering;
beforeAll(async () => {
  delivering = await startDelivering({ lookup });
});
afterAll(async () => {
  await delivering.stop();
});

async function story(endpoint: Record<string, unknown> = {}, receiver?: TestReceiver) {
  const { tenant, headers } = await seed.tenantWithKey();
  await seedEventType(tenant.id, "order.created");
  const api = outboundApi(headers);
  const created = await api.createEndpoint({ url: receiver?.url ?? "http://127.0.0.1:9/none", ...endpoint });
  return { tenant, headers, api, endpointId: created.id };
}

const SEND_FIELDS = `... on SendResult { attemptNumber statusCode durationMs responseBody error { class message } delivery { status } }
  ... on Error { code field message }`;

describe("connect-time address checks", () => {
  it("refuses a name that resolves to a private address, without retrying, and says so in the attempt", async () => {
    const { api } = await story({ url: "http://rebinding.test/hook", retryPolicy: { delaysSeconds: [0, 0] } });
    const published = await api.publish({ eventType: "order.created", payload: {} });
    const delivery = await until(
      () =>
        prisma.delivery.findFirstOrThrow({
          where: { eventId: uuidOf(published.event.id) },
          include: { attempts: true },
        }),
      (d) => d.status === "FAILED",
      "refusal",
    );
    expect(delivery.failureReason).toBe("blocked_address");
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0]).toMatchObject({ errorClass: "blocked_address", statusCode: null });
    expect(delivery.attempts[0]?.errorMessage).toContain("rebinding.test resolves to 10.0.0.9 is a private address");
  });
});

describe("test sends", () => {
  it("sends a signalpost.test event synchronously, logs it as a TEST attempt, and allows 5 a minute", async () => {
    const receiver = await TestReceiver.start();
    const { headers, endpointId } = await story({}, receiver);
    receiver.respondWith({ status: 201, body: "got it" });
    const send = `mutation ($id: ID!) { sendTestEvent(endpointId: $id) {
      __typename ${SEND_FIELDS} ... on RateLimitedError { retryAfterSeconds } } }`;
    const first = await execute<{ sendTestEvent: Record<string, unknown> }>(send, { id: endpointId }, headers);
    expect(first.data?.sendTestEvent).toMatchObject({
      __typename: "SendResult",
      attemptNumber: 1,
      statusCode: 201,
      responseBody: "got it",
      error: null,
      delivery: { status: "SUCCEEDED" },
    });
    expect(JSON.parse(receiver.requests[0]?.body.toString() ?? "{}")).toMatchObject({ type: "signalpost.test" });
    const attempt = await prisma.deliveryAttempt.findFirstOrThrow({ where: { endpointId: uuidOf(endpointId) } });
    expect(attempt.trigger).toBe("TEST");

    receiver.respondWith({ status: 500, body: "down" });
    const failing = await execute<{ sendTestEvent: Record<string, unknown> }>(send, { id: endpointId }, headers);
    expect(failing.data?.sendTestEvent).toMatchObject({
      statusCode: 500,
      error: { class: "http_status" },
      delivery: { status: "FAILED" },
    });
    for (let i = 0; i < 3; i += 1) await execute(send, { id: endpointId }, headers);
    const limited = await execute<{ sendTestEvent: Record<string, unknown> }>(send, { id: endpointId }, headers);
    expect(limited.data?.sendTestEvent).toMatchObject({ __typename: "RateLimitedError", code: "RATE_LIMITED" });
    expect(receiver.requests).toHaveLength(5);
    await receiver.close();
  });

  it("sends to every enabled endpoint at once", async () => {
    const receiver = await TestReceiver.start();
    const { api, headers } = await story({}, receiver);
    await api.createEndpoint({ url: receiver.url });
    const result = await execute<{
      sendTestEventToAll: { result: { statusCode: number }; outcome: { __typename: string; statusCode: number } }[];
    }>(
      `mutation { sendTestEventToAll { endpoint { id } result { statusCode }
        outcome { __typename ... on SendResult { statusCode } } } }`,
      {},
      headers,
    );
    expect(result.data?.sendTestEventToAll.map((item) => item.result.statusCode)).toEqual([200, 200]);
    expect(result.data?.sendTestEventToAll.map((item) => item.outcome)).toEqual([
      { __typename: "SendResult", statusCode: 200 },
      { __typename: "SendResult", statusCode: 200 },
    ]);
    await receiver.close();
  });
});

describe("manual retry and recovery", () => {
  it("retries a dead delivery now, with a MANUAL attempt and the same webhook-id", async () => {
    const receiver = await TestReceiver.start();
    const { api, headers } = await story({ retryPolicy: { delaysSeconds: [0], maxAttempts: 1 } }, receiver);
    receiver.respondWith({ status: 503 });
    const published = await api.publish({ eventType: "order.created", payload: {} });
    const dead = await until(
      () => prisma.delivery.findFirstOrThrow({ where: { eventId: uuidOf(published.event.id) } }),
      (d) => d.status === "FAILED",
      "dead",
    );
    receiver.respondWith({ status: 200 });
    const retried = await execute<{ retryDelivery: Record<string, unknown> }>(
      `mutation ($id: ID!) { retryDelivery(id: $id) { __typename ${SEND_FIELDS} } }`,
      { id: gid("Delivery", dead.id) },
      headers,
    );
    expect(retried.errors).toBeUndefined();
    expect(retried.data?.retryDelivery).toMatchObject({
      __typename: "SendResult",
      attemptNumber: 2,
      statusCode: 200,
      delivery: { status: "SUCCEEDED" },
    });
    expect(new Set(receiver.requests.map((request) => request.headers["webhook-id"]))).toEqual(
      new Set([published.event.messageId]),
    );
    const attempts = await prisma.deliveryAttempt.findMany({
      where: { deliveryId: dead.id },
      orderBy: { number: "asc" },
    });
    expect(attempts.map((attempt) => attempt.trigger)).toEqual(["SCHEDULED", "MANUAL"]);
    await receiver.close();
  });

  it("shows the request a delivery sent: the same body and headers the receiver got, custom values masked", async () => {
    const receiver = await TestReceiver.start();
    const { api, headers } = await story({ headers: { "x-api-key": "s3cret-value" } }, receiver);
    const published = await api.publish({ eventType: "order.created", payload: { id: 7, note: "héllo" } });
    const [received] = await receiver.waitForRequests(1);
    const delivery = await prisma.delivery.findFirstOrThrow({ where: { eventId: uuidOf(published.event.id) } });
    const read = await execute<{ delivery: { request: { body: string; headers: Record<string, string> } } }>(
      "query ($id: ID!) { delivery(id: $id) { ... on Delivery { request { body headers } } } }",
      { id: gid("Delivery", delivery.id) },
      headers,
    );
    expect(read.errors).toBeUndefined();
    const request = read.data?.delivery.request;
    expect(request?.body).toBe(received?.body.toString("utf8"));
    expect(request?.headers["x-api-key"]).toBe("••••••••");
    expect(JSON.stringify(request)).not.toContain("s3cret-value");
    expect(received?.headers["x-api-key"]).toBe("s3cret-value");
    // Every other header as it arrived; the signature and its timestamp are made per attempt and not kept.
    const { "x-api-key": _masked, ...unmasked } = request?.headers ?? {};
    for (const [name, value] of Object.entries(unmasked)) expect(received?.headers[name], name).toBe(value);
    expect(Object.keys(unmasked).sort()).toEqual(["content-type", "user-agent", "webhook-id"]);
    await receiver.close();
  });

  it("recovers failed deliveries in a window, counting them first with a dry run", async () => {
    const receiver = await TestReceiver.start();
    const { api, headers, endpointId } = await story({ retryPolicy: { delaysSeconds: [0], maxAttempts: 1 } }, receiver);
    receiver.respondWith({ status: 500 });
    const since = new Date(Date.now() - 1_000).toISOString();
    const events = [];
    for (let i = 0; i < 3; i += 1) events.push(await api.publish({ eventType: "order.created", payload: { i } }));
    await until(
      () => prisma.delivery.count({ where: { endpointId: uuidOf(endpointId), status: "FAILED" } }),
      (n) => n === 3,
      "three dead",
    );
    const recover = `mutation ($id: ID!, $since: DateTime!, $dryRun: Boolean!) {
      recoverEndpoint(endpointId: $id, since: $since, dryRun: $dryRun) { __typename ... on RecoverResult { count dryRun } ... on Error { field message } } }`;
    const dry = await execute<{ recoverEndpoint: { count: number; dryRun: boolean } }>(
      recover,
      { id: endpointId, since, dryRun: true },
      headers,
    );
    expect(dry.data?.recoverEndpoint).toEqual({ __typename: "RecoverResult", count: 3, dryRun: true });
    expect(await prisma.delivery.count({ where: { endpointId: uuidOf(endpointId), status: "FAILED" } })).toBe(3);

    receiver.respondWith({ status: 200 });
    const real = await execute<{ recoverEndpoint: { count: number } }>(
      recover,
      { id: endpointId, since, dryRun: false },
      headers,
    );
    expect(real.data?.recoverEndpoint.count).toBe(3);
    await until(
      () => prisma.delivery.count({ where: { endpointId: uuidOf(endpointId), status: "SUCCEEDED" } }),
      (n) => n === 3,
      "recovered",
    );
    expect(
      await prisma.auditEntry.count({ where: { action: "endpoint.recovered", targetId: uuidOf(endpointId) } }),
    ).toBe(1);
    const later = await execute<{ recoverEndpoint: { field: string } }>(
      recover,
      { id: endpointId, since: new Date(Date.now() + 60_000).toISOString(), dryRun: true },
      headers,
    );
    expect(later.data?.recoverEndpoint).toMatchObject({ __typename: "ValidationError", field: "since" });
    await receiver.close();
  });
});

describe("the delivery log, export and health", () => {
  it("filters deliveries and attempts, exports them, and reports health percentiles", async () => {
    const receiver = await TestReceiver.start();
    const { api, headers, endpointId } = await story({ retryPolicy: { delaysSeconds: [0], maxAttempts: 1 } }, receiver);
    receiver.respondWith((n) => (n <= 4 ? { status: 200, latencyMs: 20 } : { status: 404 }));
    const ids = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push((await api.publish({ eventType: "order.created", payload: { i } })).event.id);
      await until(
        () =>
          prisma.delivery.count({ where: { endpointId: uuidOf(endpointId), status: { in: ["SUCCEEDED", "FAILED"] } } }),
        (n) => n === i + 1,
        "settled",
      );
    }
    const list = `query ($filter: DeliveryFilter) { deliveries(filter: $filter) { ... on DeliveryConnection { edges { node { status lastStatusCode } } } } }`;
    const failed = await execute<{ deliveries: { edges: { node: { status: string; lastStatusCode: number } }[] } }>(
      list,
      { filter: { statuses: ["FAILED"] } },
      headers,
    );
    expect(failed.data?.deliveries.edges.map((edge) => edge.node)).toEqual([{ status: "FAILED", lastStatusCode: 404 }]);
    const ok = await execute<{ deliveries: { edges: unknown[] } }>(
      list,
      { filter: { statusCodeClass: "SUCCESS_2XX", endpointId } },
      headers,
    );
    expect(ok.data?.deliveries.edges).toHaveLength(4);
    const none = await execute<{ deliveries: { edges: unknown[] } }>(
      list,
      { filter: { eventType: "other.type" } },
      headers,
    );
    expect(none.data?.deliveries.edges).toHaveLength(0);
    const bad = await execute<{ deliveries: { __typename: string; field: string } }>(
      `query { deliveries(filter: { since: "2030-01-01T00:00:00Z", until: "2020-01-01T00:00:00Z" }) { __typename ... on Error { field } } }`,
      {},
      headers,
    );
    expect(bad.data?.deliveries).toEqual({ __typename: "ValidationError", field: "filter.since" });

    const attempts = await execute<{ deliveryAttempts: { edges: { node: { statusCode: number } }[] } }>(
      `{ deliveryAttempts(filter: { statusCodeClass: CLIENT_ERROR_4XX }) { ... on DeliveryAttemptConnection { edges { node { statusCode } } } } }`,
      {},
      headers,
    );
    expect(attempts.data?.deliveryAttempts.edges.map((edge) => edge.node.statusCode)).toEqual([404]);

    const ndjson = await execute<{ exportDeliveries: { rowCount: number; data: string; contentType: string } }>(
      `{ exportDeliveries(format: NDJSON) { ... on DeliveryExport { rowCount contentType data } } }`,
      {},
      headers,
    );
    expect(ndjson.data?.exportDeliveries).toMatchObject({ rowCount: 5, contentType: "application/x-ndjson" });
    const rows =
      ndjson.data?.exportDeliveries.data
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)) ?? [];
    expect(rows.map((row) => row.eventId).sort()).toEqual([...ids].sort());
    const csv = await execute<{ exportDeliveries: { data: string } }>(
      `{ exportDeliveries(format: CSV, filter: { statuses: [FAILED] }) { ... on DeliveryExport { data } } }`,
      {},
      headers,
    );
    const lines = csv.data?.exportDeliveries.data.trim().split("\r\n") ?? [];
    expect(lines[0]).toBe(
      "id,messageId,eventId,endpointId,eventType,status,attemptCount,lastStatusCode,lastError,failureReason,createdAt,lastAttemptAt,completedAt",
    );
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(",FAILED,1,404,HTTP 404,not_retryable_status,");

    const health = await execute<{
      endpoint: { health: Record<string, unknown> & { lastHour: Record<string, number> } };
    }>(
      `query ($id: ID!) { endpoint(id: $id) { ... on Endpoint { health {
        state consecutiveFailures lastSuccessAt lastFailureAt lastHour { attempts successes failures successRate p50Ms p95Ms p99Ms } } } } }`,
      { id: endpointId },
      headers,
    );
    const figures = health.data?.endpoint.health;
    expect(figures).toMatchObject({ state: "FAILING", consecutiveFailures: 1 });
    expect(figures?.lastHour).toMatchObject({ attempts: 5, successes: 4, failures: 1, successRate: 0.8 });
    expect(figures?.lastHour.p50Ms).toBeGreaterThanOrEqual(15);
    expect(figures?.lastHour.p99Ms).toBeGreaterThanOrEqual(figures?.lastHour.p50Ms ?? 0);
    await receiver.close();
  });
});

describe("at-least-once", () => {
  it("loses nothing when a worker process is killed mid-delivery: its lease runs out and the same webhook-id is sent again", async () => {
    // Stop this file's dispatcher so the spawned worker takes the delivery.
    await delivering.dispatcher.stop(Date.now() + 1_000);
    const receiver = await TestReceiver.start();
    const { api } = await story({ timeoutMs: 1_000 }, receiver);
    receiver.respondWith((n) => (n === 1 ? { status: 200, latencyMs: 5_000 } : { status: 200 }));
    const worker = runSignalpost(["serve", "--role", "worker"], {
      DATABASE_URL: process.env.DATABASE_URL,
      SIGNALPOST_ALLOW_INSECURE_URLS: "true",
      SIGNALPOST_DELIVERY_LEASE_GRACE_MS: "1000",
    });
    try {
      await worker.waitForLog((line) => line.msg === "job queue started");
      const published = await api.publish({ eventType: "order.created", payload: { important: true } });
      await receiver.waitForRequests(1, 15_000);
      worker.child.kill("SIGKILL");
      await worker.exited;

      delivering = await startDelivering({ lookup, leaseGraceMs: 1_000 });
      // The dead worker's job runs again once pg-boss has expired it (30 s, at its next maintenance, every 10 s).
      const delivery = await until(
        () => prisma.delivery.findFirstOrThrow({ where: { eventId: uuidOf(published.event.id) } }),
        (d) => d.status === "SUCCEEDED",
        "redelivery",
        70_000,
      );
      expect(delivery.status).toBe("SUCCEEDED");
      const ids = receiver.requests.map((request) => request.headers["webhook-id"]);
      expect(ids.length).toBeGreaterThanOrEqual(2);
      expect(new Set(ids)).toEqual(new Set([published.event.messageId]));
    } finally {
      worker.child.kill("SIGKILL");
      await receiver.close();
    }
  }, 120_000);
});
