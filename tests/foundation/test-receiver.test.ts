import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestReceiver } from "../support/test-receiver.js";

// The receiver carries the delivery tests, so its own behaviour is pinned down here.
let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  await receiver.close();
});

describe("TestReceiver", () => {
  it("records method, path, headers and raw body, and answers 200 by default", async () => {
    const response = await fetch(receiver.url, { method: "POST", headers: { "x-probe": "1" }, body: '{"a":1}' });
    expect(response.status).toBe(200);
    const [request] = await receiver.waitForRequests(1);
    expect(request).toMatchObject({ method: "POST", path: "/hook", headers: { "x-probe": "1" } });
    expect(request?.body.toString()).toBe('{"a":1}');
  });

  it("answers with the configured status, body, headers and latency", async () => {
    receiver.respondWith({ status: 503, body: "busy", headers: { "retry-after": "7" }, latencyMs: 150 });
    const begun = performance.now();
    const response = await fetch(receiver.url, { method: "POST", body: "x" });
    // The latency is what is tested, so time is the observable here; only a lower bound, which a busy machine
    // cannot break (it only makes answers later). 10 ms below the setting for timer granularity.
    expect(performance.now() - begun).toBeGreaterThanOrEqual(140);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(await response.text()).toBe("busy");
  });

  it("can answer by request number, for fail-then-succeed stories", async () => {
    const before = receiver.requests.length;
    receiver.respondWith((n) => (n - before <= 2 ? { status: 500 } : { status: 204, body: "" }));
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await fetch(receiver.url, { method: "POST", body: "x" })).status);
    expect(statuses).toEqual([500, 500, 204]);
  });
});
