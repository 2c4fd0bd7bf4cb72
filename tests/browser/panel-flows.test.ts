import { copyFile, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumForTests } from "../support/chromium.js";
import { focused, type Panel, startPanel } from "../support/panel.js";
import { TestReceiver } from "../support/test-receiver.js";

/**
 * The panel's flows beyond the basics of panel.test.ts, each driven through the keyboard where it matters: delivery
 * detail, agents, event types, the audit log, delivery filters/export/recovery, endpoint edit and API key expiry.
 */
const CHROMIUM = chromiumForTests("tests/browser/panel-flows.test.ts").path;
const SCREENSHOTS = path.resolve("test-artifacts/screenshots");

let panel: Panel;
let page: Page;
let receiver: TestReceiver;

beforeAll(async () => {
  if (!CHROMIUM) return;
  receiver = await TestReceiver.start();
  panel = await startPanel(CHROMIUM);
  page = panel.page;
  await mkdir(SCREENSHOTS, { recursive: true });
});
afterAll(async () => {
  await panel?.stop();
  await receiver?.close();
});

const status = () => page.locator("#status").textContent();
const errorFor = (form: Locator, name: string) => form.locator(`[data-error-for="${name}"]`).textContent();

async function shot(name: string): Promise<string> {
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Goes to a section through its nav link, by keyboard: focus it, press Enter. */
async function open(link: string, heading = link): Promise<void> {
  await page.getByRole("link", { name: link, exact: true }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: heading, exact: true }).waitFor();
}

/** The focused element draws a visible outline (the panel's :focus-visible style). */
async function focusOutline(): Promise<string> {
  return page.evaluate(() => {
    const element = document.activeElement as HTMLElement;
    const style = getComputedStyle(element);
    return `${style.outlineStyle} ${style.outlineWidth}`;
  });
}

describe.skipIf(!CHROMIUM)("the panel's flows", () => {
  let endpointId: string;

  it("shows a delivery like Recent deliveries: the request as sent, every attempt, and redelivers it", async () => {
    await panel.api(`mutation { createEventType(input: { name: "order.created" }) { __typename } }`);
    const created = await panel.api<{ createEndpoint: { endpoint: { id: string } } }>(
      `mutation ($input: CreateEndpointInput!) { createEndpoint(input: $input) {
        ... on CreatedEndpoint { endpoint { id } } } }`,
      {
        input: {
          name: "orders-receiver",
          url: receiver.url,
          headers: { "x-api-key": "panel-secret-value" },
          retryPolicy: { delaysSeconds: [3600], maxAttempts: 2 },
        },
      },
    );
    endpointId = created.createEndpoint.endpoint.id;
    receiver.respondWith({
      status: 503,
      body: '{"error":"busy"}',
      headers: { "content-type": "application/json", "x-receiver": "one" },
    });
    await panel.api(`mutation { publishEvent(input: { eventType: "order.created", payload: { orderId: 42 } }) {
      __typename } }`);
    await receiver.waitForRequests(1);
    // The attempt is recorded just after the receiver answers: wait until the log has it.
    await expect
      .poll(async () => {
        const { deliveries } = await panel.api<{ deliveries: { edges: { node: { attemptCount: number } }[] } }>(
          "{ deliveries(first: 1) { ... on DeliveryConnection { edges { node { attemptCount } } } } }",
        );
        return deliveries.edges[0]?.node.attemptCount;
      })
      .toBe(1);

    await open("Deliveries");
    const link = page.getByRole("link", { name: /^Details of order\.created to orders-receiver/ });
    await link.focus();
    expect(await focusOutline()).toMatch(/^solid [1-9]/);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Delivery of order.created to orders-receiver" }).waitFor();

    // The request as sent: our headers with the custom value masked, and the body.
    const request = page.getByRole("region", { name: "Request" });
    const requestHeaders = await request.getByRole("table", { name: "Request headers" }).textContent();
    expect(requestHeaders).toContain("x-api-key••••••••");
    expect(requestHeaders).toMatch(/webhook-idmsg_/);
    expect(requestHeaders).not.toContain("panel-secret-value");
    expect(JSON.parse((await page.getByTestId("request-body").textContent()) as string)).toMatchObject({
      type: "order.created",
      data: { orderId: 42 },
    });

    // The failed attempt: trigger, status, latency, the answer's headers and body, the error class, the retry.
    const first = page.locator('details[data-attempt="1"]');
    expect(await first.getAttribute("open")).not.toBeNull();
    expect(await first.getByTestId("trigger").textContent()).toBe("SCHEDULED");
    expect(await first.getByTestId("status-code").textContent()).toBe("503");
    expect(await first.getByTestId("latency").textContent()).toMatch(/^\d+ ms$/);
    expect(await first.getByTestId("error-class").textContent()).toBe("http_status");
    expect(await first.getByTestId("next-attempt").textContent()).toMatch(/^scheduled for /);
    expect(await first.getByRole("table", { name: "Response headers of attempt 1" }).textContent()).toContain(
      "x-receiverone",
    );
    expect(JSON.parse((await first.getByTestId("response-body").textContent()) as string)).toEqual({ error: "busy" });
    expect(await page.getByTestId("delivery-status").textContent()).toBe("PENDING");
    await shot("delivery-detail");

    // Redeliver, by keyboard: the dialog focuses Cancel; Tab to Redeliver and Enter.
    receiver.respondWith({ status: 200, body: "thanks" });
    await page.getByRole("button", { name: "Redeliver" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog").waitFor();
    expect((await focused(page)).text).toBe("Cancel");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await expect.poll(status).toBe("Redelivered: attempt 2 got 200; now SUCCEEDED");
    const second = page.locator('details[data-attempt="2"]');
    await second.waitFor();
    expect(await second.getByTestId("trigger").textContent()).toBe("MANUAL");
    expect(await second.getByTestId("status-code").textContent()).toBe("200");
    expect(await second.getByTestId("next-attempt").textContent()).toBe("none: delivered");
    expect(await page.locator('details[data-attempt="1"]').getByTestId("next-attempt").textContent()).toMatch(
      /^attempt 2, /,
    );
    expect(await page.getByTestId("delivery-status").textContent()).toBe("SUCCEEDED");
    expect((await focused(page)).text).toBe("Redeliver");
    const [, again] = await receiver.waitForRequests(2);
    expect(again?.headers["x-api-key"]).toBe("panel-secret-value");

    // A made-up id reads as not found, with the way back.
    await page.goto(`/console#/deliveries/${encodeURIComponent("no-such-delivery")}`);
    await expect.poll(() => page.getByRole("alert").textContent()).toBe("No delivery with that id");
    expect(panel.pageErrors).toEqual([]);
  });
});

export { copyFile, readFile };
