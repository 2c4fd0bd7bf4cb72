import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { verifyStandardWebhook } from "../../src/lib/webhook-signature.js";
import { messageId } from "../../src/modules/deliveries/delivery-sender.js";
import { uuidOf } from "../support/ids.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

let delivering: Delivering;
let receiver: TestReceiver;
beforeAll(async () => {
  delivering = await startDelivering();
});
afterAll(async () => {
  await delivering.stop();
});

/** A tenant with an event type and one endpoint on a fresh receiver. */
async function story(endpoint: Record<string, unknown> = {}) {
  receiver = await TestReceiver.start();
  const { tenant, headers } = await seed.tenantWithKey();
  await seedEventType(tenant.id, "order.created");
  const api = outboundApi(headers);
  const created = await api.createEndpoint({ url: receiver.url, ...endpoint });
  return { tenant, api, endpointId: created.id, secret: created.secret };
}

/** The receiver's requests for one event (each delivery of it carries its webhook-id). */
function requestsFor(eventId: string) {
  return receiver.requests.filter((request) => request.headers["webhook-id"] === messageId(uuidOf(eventId)));
}

/**
 * Publishes one more event and waits until its delivery has ended too: it is due after anything the first event's
 * delivery (wrongly) scheduled at once, and attempts are recorded after their requests were sent, so once it has
 * ended, such an attempt would already be at the receiver.
 */
async function sentinelDelivered(api: ReturnType<typeof outboundApi>): Promise<void> {
  const sentinel = await api.publish({ eventType: "order.created", payload: { sentinel: true } });
  await until(
    () => deliveryOf(sentinel.event.id),
    (d) => d.status === "FAILED" || d.status === "SUCCEEDED",
    "the sentinel delivery",
  );
}

async function deliveryOf(eventId: string) {
  return prisma.delivery.findFirstOrThrow({
    where: { eventId: uuidOf(eventId) },
    include: { attempts: { orderBy: { number: "asc" } } },
  });
}

describe("signed delivery", () => {
  it("POSTs the documented envelope with Standard Webhooks headers that verify with the endpoint's secret", async () => {
    const { api, secret } = await story({ headers: { "X-Team": "payments" } });
    const published = await api.publish({ eventType: "order.created", payload: { orderId: 42, total: 9.5 } });
    expect(published.deliveryCount).toBe(1);
    const [request] = await receiver.waitForRequests(1);
    if (!request) throw new Error("no request");

    expect(JSON.parse(request.body.toString())).toEqual({
      type: "order.created",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: { orderId: 42, total: 9.5 },
    });
    expect(request.headers).toMatchObject({
      "content-type": "application/json",
      "user-agent": expect.stringMatching(/^Signalpost\/\d+\.\d+\.\d+/),
      "x-team": "payments",
      "webhook-id": published.event.messageId,
    });
    const verified = verifyStandardWebhook({ headers: request.headers, body: request.body, secrets: [secret] });
    expect(verified).toMatchObject({ ok: true, msgId: published.event.messageId });

    const delivery = await until(
      () => deliveryOf(published.event.id),
      (d) => d.status === "SUCCEEDED",
      "success",
    );
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0]).toMatchObject({
      number: 1,
      trigger: "SCHEDULED",
      statusCode: 200,
      responseBody: "ok",
      errorClass: null,
    });
    await receiver.close();
  });

  it("signs with both secrets during a rotation's grace period", async () => {
    const { api, endpointId, secret: oldSecret } = await story();
    const rotated = await api.run<{ rotateEndpointSecret: { secret: string } }>(
      `mutation ($id: ID!) { rotateEndpointSecret(id: $id, gracePeriodSeconds: 3600) { ... on RotatedSecret { secret } } }`,
      { id: endpointId },
    );
    const newSecret = rotated.rotateEndpointSecret.secret;
    expect(newSecret).not.toBe(oldSecret);
    await api.publish({ eventType: "order.created", payload: {} });
    const [request] = await receiver.waitForRequests(1);
    if (!request) throw new Error("no request");
    expect(String(request.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) {
      expect(verifyStandardWebhook({ headers: request.headers, body: request.body, secrets: [secret] }).ok).toBe(true);
    }

    // With no grace the old secret stops at once.
    await api.run(`mutation ($id: ID!) { rotateEndpointSecret(id: $id, gracePeriodSeconds: 0) { __typename } }`, {
      id: endpointId,
    });
    await api.publish({ eventType: "order.created", payload: {} });
    const [, second] = await receiver.waitForRequests(2);
    expect(String(second?.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(
      verifyStandardWebhook({ headers: second?.headers ?? {}, body: second?.body ?? "", secrets: [newSecret] }).ok,
    ).toBe(false);
    await receiver.close();
  });
});

describe("retries", () => {
  it.each([
    [500, "server error"],
    [503, "unavailable"],
    [408, "request timeout"],
    [429, "too many requests"],
  ])("retries a %i (%s) and succeeds on the next attempt, with the same webhook-id", async (status) => {
    const { api } = await story({ retryPolicy: { delaysSeconds: [0, 0] } });
    receiver.respondWith((n) => (n === 1 ? { status } : { status: 200 }));
    const published = await api.publish({ eventType: "order.created", payload: { n: 1 } });
    const requests = await receiver.waitForRequests(2);
    expect(requests.map((request) => request.headers["webhook-id"])).toEqual([
      published.event.messageId,
      published.event.messageId,
    ]);
    const delivery = await until(
      () => deliveryOf(published.event.id),
      (d) => d.status === "SUCCEEDED",
      "success",
    );
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toEqual([status, 200]);
    await receiver.close();
  });

  it("retries timeouts and refused connections", async () => {
    const { api } = await story({ retryPolicy: { delaysSeconds: [0] }, timeoutMs: 1_000 });
    receiver.respondWith((n) => (n === 1 ? { latencyMs: 2_500 } : { status: 200 }));
    const published = await api.publish({ eventType: "order.created", payload: {} });
    const delivery = await until(
      () => deliveryOf(published.event.id),
      (d) => d.status === "SUCCEEDED",
      "success after a timeout",
    );
    expect(delivery.attempts.map((attempt) => attempt.errorClass)).toEqual(["timeout", null]);
    await receiver.close();

    const refused = await story({ retryPolicy: { delaysSeconds: [0], maxAttempts: 2 } });
    await receiver.close();
    const lost = await refused.api.publish({ eventType: "order.created", payload: {} });
    const failed = await until(
      () => deliveryOf(lost.event.id),
      (d) => d.status === "FAILED",
      "dead letter",
    );
    expect(failed.attempts.map((attempt) => attempt.errorClass)).toEqual(["connection_refused", "connection_refused"]);
    expect(failed.failureReason).toBe("attempts_exhausted");
  });

  it("does not retry other 4xx answers", async () => {
    const { api } = await story({ retryPolicy: { delaysSeconds: [0, 0] } });
    receiver.respondWith({ status: 404, body: "no such hook" });
    const published = await api.publish({ eventType: "order.created", payload: {} });
    const delivery = await until(
      () => deliveryOf(published.event.id),
      (d) => d.status === "FAILED",
      "failure",
    );
    expect(delivery).toMatchObject({ failureReason: "not_retryable_status", lastStatusCode: 404, attemptCount: 1 });
    await sentinelDelivered(api);
    expect(requestsFor(published.event.id)).toHaveLength(1);
    await receiver.close();
  });

  it("makes the last allowed attempt and nothing after it", async () => {
    const { api } = await story({ retryPolicy: { delaysSeconds: [0], maxAttempts: 3 } });
    receiver.respondWith({ status: 500 });
    const published = await api.publish({ eventType: "order.created", payload: {} });
    const delivery = await until(
      () => deliveryOf(published.event.id),
      (d) => d.status === "FAILED",
      "dead letter",
    );
    expect(delivery.attempts.map((attempt) => attempt.number)).toEqual([1, 2, 3]);
    expect(delivery.failureReason).toBe("attempts_exhausted");
    await sentinelDelivered(api);
    expect(requestsFor(published.event.id)).toHaveLength(3);
    await receiver.close();
  });

  it("schedules the next attempt after Retry-After instead of the schedule", async () => {
    const { api } = await story({ retryPolicy: { delaysSeconds: [3_600] } });
    receiver.respondWith({ status: 429, headers: { "retry-after": "7" } });
    const published = await api.publish({ eventType: "order.created", payload: {} });
    const delivery = await until(
      () => deliveryOf(published.event.id),
      (d) => d.status === "PENDING" && d.attemptCount === 1,
      "reschedule",
    );
    const waitMs = delivery.dueAt.getTime() - (delivery.lastAttemptAt as Date).getTime();
    expect(waitMs).toBeGreaterThanOrEqual(6_900);
    expect(waitMs).toBeLessThanOrEqual(7_100);
    await receiver.close();
  });

  it("uses the default schedule (5 s first, ±20 % jitter) when the endpoint has none", async () => {
    const { api } = await story();
    receiver.respondWith({ status: 500 });
    const published = await api.publish({ eventType: "order.created", payload: {} });
    const delivery = await until(
      () => deliveryOf(published.event.id),
      (d) => d.status === "PENDING" && d.attemptCount === 1,
      "reschedule",
    );
    const waitMs = delivery.dueAt.getTime() - (delivery.lastAttemptAt as Date).getTime();
    expect(waitMs).toBeGreaterThanOrEqual(4_000);
    expect(waitMs).toBeLessThanOrEqual(6_000);
    await receiver.close();
  });

  it("disables the endpoint on 410 Gone and fails what was waiting for it", async () => {
    const { api, endpointId } = await story({ retryPolicy: { delaysSeconds: [3_600] } });
    receiver.respondWith({ status: 500 });
    const waiting = await api.publish({ eventType: "order.created", payload: { first: true } });
    await until(
      () => deliveryOf(waiting.event.id),
      (d) => d.status === "PENDING" && d.attemptCount === 1,
      "first failure",
    );
    receiver.respondWith({ status: 410 });
    const gone = await api.publish({ eventType: "order.created", payload: {} });
    await until(
      () => deliveryOf(gone.event.id),
      (d) => d.status === "FAILED",
      "410",
    );
    const endpoint = await until(
      () => prisma.endpoint.findUniqueOrThrow({ where: { id: uuidOf(endpointId) } }),
      (e) => !e.enabled,
      "disable",
    );
    expect(endpoint.disabledReason).toBe("the endpoint answered 410 Gone");
    expect((await deliveryOf(gone.event.id)).failureReason).toBe("endpoint_gone");
    expect(await deliveryOf(waiting.event.id)).toMatchObject({ status: "FAILED", failureReason: "endpoint_disabled" });
    const audit = await prisma.auditEntry.findFirst({
      where: { action: "endpoint.disabled", targetId: uuidOf(endpointId) },
    });
    expect(audit).toMatchObject({ actorType: "system" });
    await receiver.close();
  });

  it("auto-disables an endpoint that keeps failing past the window, recording why", async () => {
    const { api, endpointId } = await story({ retryPolicy: { delaysSeconds: [0], maxAttempts: 4 } });
    receiver.respondWith({ status: 500 });
    await prisma.endpoint.update({
      where: { id: uuidOf(endpointId) },
      data: { failingSince: new Date(Date.now() - 6 * 24 * 3_600_000) },
    });
    await api.publish({ eventType: "order.created", payload: {} });
    const endpoint = await until(
      () => prisma.endpoint.findUniqueOrThrow({ where: { id: uuidOf(endpointId) } }),
      (e) => !e.enabled,
      "auto-disable",
    );
    expect(endpoint.disabledReason).toMatch(/^failing continuously since .* \(auto-disable after 120 h\)$/);

    // Enabling again resets the streak.
    const enabled = await api.run<{
      enableEndpoint: { enabled: boolean; health: { state: string; consecutiveFailures: number } };
    }>(
      `mutation ($id: ID!) { enableEndpoint(id: $id) { ... on Endpoint { enabled health { state consecutiveFailures } } } }`,
      { id: endpointId },
    );
    expect(enabled.enableEndpoint).toEqual({ enabled: true, health: { state: "HEALTHY", consecutiveFailures: 0 } });
    await receiver.close();
  });
});
