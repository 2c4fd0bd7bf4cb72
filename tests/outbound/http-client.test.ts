import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutboundClient, type OutboundClient, type Resolver } from "../../src/lib/http-client.js";
import { TestReceiver } from "../support/test-receiver.js";

const LOOPBACK_OK = { allowLoopback: true, allowPrivate: false, allowlist: [] };
let receiver: TestReceiver;
let client: OutboundClient;
beforeAll(async () => {
  receiver = await TestReceiver.start();
  client = createOutboundClient({ policy: LOOPBACK_OK });
});
afterAll(async () => {
  await client.close();
  await receiver.close();
});

const post = (url: string, overrides: Partial<Parameters<OutboundClient["post"]>[0]> = {}, using = client) =>
  using.post({
    url,
    headers: { "content-type": "application/json", "x-test": "yes" },
    body: '{"hello":"world"}',
    timeoutMs: 2_000,
    ...overrides,
  });

describe("outbound HTTP client", () => {
  it("delivers the exact body and headers and reports the answer", async () => {
    receiver.respondWith({ status: 202, body: "thanks", headers: { "x-receipt": "r1" } });
    const before = receiver.requests.length;
    const result = await post(receiver.url.replace("127.0.0.1", "localhost"));
    expect(result).toMatchObject({ ok: true, statusCode: 202, responseBody: "thanks", error: null });
    expect(result.responseHeaders["x-receipt"]).toBe("r1");
    const request = receiver.requests[before];
    expect(request?.body.toString()).toBe('{"hello":"world"}');
    expect(request?.headers["x-test"]).toBe("yes");
  });

  it("classifies a non-2xx answer as http_status and does not follow redirects", async () => {
    receiver.respondWith({ status: 500, body: "boom" });
    expect(await post(receiver.url)).toMatchObject({ ok: false, statusCode: 500, error: { class: "http_status" } });
    receiver.respondWith({ status: 302, headers: { location: "http://127.0.0.1:1/elsewhere" } });
    expect(await post(receiver.url)).toMatchObject({ ok: false, statusCode: 302, error: { class: "http_status" } });
  });

  it("times out a slow receiver by its own budget", async () => {
    // The receiver would answer long after the test's own timeout, so only a client budget can end either call. Two
    // calls with different budgets, started together: the shorter budget must end its call first. Order, not elapsed
    // time, so a busy machine cannot fail it, and a client ignoring the budget (or using a fixed one) cannot pass.
    receiver.respondWith({ latencyMs: 60_000 });
    const settled: number[] = [];
    const timed = async (timeoutMs: number) => {
      const result = await post(receiver.url, { timeoutMs });
      settled.push(timeoutMs);
      return result;
    };
    const [short, long] = [timed(300), timed(3_000)];
    const [shortResult, longResult] = await Promise.all([short, long]);
    expect(shortResult).toMatchObject({ ok: false, statusCode: null, error: { class: "timeout" } });
    expect(longResult).toMatchObject({ ok: false, statusCode: null, error: { class: "timeout" } });
    expect(settled).toEqual([300, 3_000]);
  });

  it("reports connection_refused for a closed port", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await post(`http://127.0.0.1:${port}/hook`)).toMatchObject({
      ok: false,
      error: { class: "connection_refused" },
    });
  });

  it("truncates a large answer at 16 KB", async () => {
    receiver.respondWith({ status: 200, body: "x".repeat(100_000) });
    const result = await post(receiver.url);
    expect(result.responseBody).toHaveLength(16_384);
    expect(result.responseBodyTruncated).toBe(true);
  });

  it("refuses loopback when the policy does not allow it, literal or by name, without connecting", async () => {
    const strict = createOutboundClient({ policy: { allowLoopback: false, allowPrivate: false, allowlist: [] } });
    const before = receiver.requests.length;
    try {
      expect(await post(receiver.url, {}, strict)).toMatchObject({ ok: false, error: { class: "blocked_address" } });
      const byName = await post(receiver.url.replace("127.0.0.1", "localhost"), {}, strict);
      expect(byName).toMatchObject({ ok: false, error: { class: "blocked_address" } });
      expect(byName.error?.message).toContain("loopback");
    } finally {
      await strict.close();
    }
    expect(receiver.requests.length).toBe(before);
  });

  it("checks every resolved address, so a name resolving to a private address (DNS rebinding) is refused", async () => {
    // The one mock: DNS answers for names that cannot exist on this machine.
    const answers: Record<string, { address: string; family: number }[]> = {
      "rebind.test": [{ address: "10.0.0.5", family: 4 }],
      "mixed.test": [
        { address: "127.0.0.1", family: 4 },
        { address: "10.0.0.5", family: 4 },
      ],
      "good.test": [{ address: "127.0.0.1", family: 4 }],
    };
    const lookup: Resolver = async (hostname) => {
      const found = answers[hostname];
      if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
      return found;
    };
    const guarded = createOutboundClient({ policy: LOOPBACK_OK, lookup });
    const port = new URL(receiver.url).port;
    receiver.respondWith({ status: 200 });
    try {
      expect(await post(`http://rebind.test:${port}/hook`, {}, guarded)).toMatchObject({
        error: { class: "blocked_address" },
      });
      expect(await post(`http://mixed.test:${port}/hook`, {}, guarded)).toMatchObject({
        error: { class: "blocked_address" },
      });
      expect(await post(`http://nowhere.test:${port}/hook`, {}, guarded)).toMatchObject({ error: { class: "dns" } });
      expect(await post(`http://good.test:${port}/hook`, {}, guarded)).toMatchObject({ ok: true, statusCode: 200 });
    } finally {
      await guarded.close();
    }
  });
});
