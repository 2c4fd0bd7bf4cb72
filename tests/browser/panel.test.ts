import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSignalpost, servingPort } from "../support/process.js";
import { type SeededKey, seed } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";

/** Debian's Chromium, installed by .ci/run (apt package chromium). Missing means the machine is not set up: fail. */
const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOTS = path.resolve("test-artifacts/screenshots");

const server = runSignalpost(["serve", "--role", "all"], {
  DATABASE_URL: process.env.DATABASE_URL,
  PORT: "0",
  HOST: "127.0.0.1",
  SIGNALPOST_ALLOW_INSECURE_URLS: "true",
});
let baseUrl: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let receiver: TestReceiver;
let admin: SeededKey;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (see .ci/run)`);
  baseUrl = `http://127.0.0.1:${await servingPort(server)}`;
  receiver = await TestReceiver.start();
  admin = await seed.tenantWithKey();
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-background-networking"],
  });
  context = await browser.newContext({ baseURL: baseUrl });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(`console: ${message.text()}`);
  });
});
afterAll(async () => {
  await browser?.close();
  server.child.kill("SIGTERM");
  await server.exited;
  await receiver?.close();
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

describe("the web developer panel at /console", () => {
  it("signs in with an API key and shows the live connection", async () => {
    await page.goto("/console");
    await shot("sign-in");
    await page.getByLabel("API key").fill(admin.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Endpoints" }).waitFor();
    await expect.poll(() => page.locator("#connection").getAttribute("data-state")).toBe("live");
    // The key itself is not kept in the browser, only the session token it was exchanged for.
    const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
    expect(stored).not.toContain(admin.token);
  });

  it("adds an endpoint pointing at a receiver, sends a test, and sees it in the live console", async () => {
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByLabel("Name").fill("receiver");
    await page.getByLabel("URL").fill("ftp://example.com/hook");
    await page.getByRole("button", { name: "Add endpoint" }).last().click();
    // The API's field error appears next to the field.
    await expect.poll(() => page.locator('[data-error-for="url"]').textContent()).not.toBe("");
    await page.getByLabel("URL").fill(receiver.url);
    await page.getByRole("button", { name: "Add endpoint" }).last().click();
    const row = page.locator('tr[data-endpoint="receiver"]');
    await row.waitFor();
    await shot("endpoints");

    await row.getByRole("button", { name: "Send test" }).click();
    await receiver.waitForRequests(1);
    await page.getByRole("link", { name: "Live console" }).click();
    await page.locator('[data-testid="console"] [data-kind="TEST_SENT"]').first().waitFor();
    expect(await page.locator('[data-testid="console"]').textContent()).toContain("Test sent to");
    await shot("console");
  });

  it("generates an API key, shows it once, and only masked after it is copied", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    const form = page.getByRole("form", { name: "Generate an API key" });
    await form.getByLabel("Name").fill("ci key");
    await form.getByLabel("endpoints:read").check();
    await form.getByRole("button", { name: "Generate key" }).click();
    const shown = await page.getByTestId("new-key").textContent();
    expect(shown).toMatch(/^sp_/);
    await page.getByRole("button", { name: "Copy key" }).click();
    await page.getByTestId("masked-key").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(shown);
    // Gone from the page: only the masked form is left, in the notice and in the table.
    expect(await page.locator("main").textContent()).not.toContain(shown as string);
    await page.locator('tr[data-key="ci key"]').waitFor();
    await shot("keys");
  });

  it("adds an agent, shows its webhook URL and masked secret, and sends it a test webhook", async () => {
    await page.getByRole("link", { name: "Agents", exact: true }).click();
    const form = page.getByRole("form", { name: "Add agent" });
    await form.getByLabel("Name").fill("orders");
    await form.getByRole("button", { name: "Add agent" }).click();
    const card = page.getByRole("region", { name: "orders" });
    await card.waitFor();
    expect(await card.textContent()).toMatch(/Webhook URL: http:\/\/localhost:\d+\/agents\/[0-9a-f-]{36}\/webhook/);
    expect(await card.textContent()).toContain("••••");
    await card.getByRole("button", { name: "Send test webhook" }).click();
    await expect.poll(() => card.getByTestId("test-result").textContent()).toContain("answered 202");
    await shot("agents");
  });

  it("opens every other page without errors", async () => {
    for (const [link, heading] of [
      ["Deliveries", "Deliveries"],
      ["Health", "Endpoint health"],
      ["Settings", "Settings"],
    ] as const) {
      await page.getByRole("link", { name: link, exact: true }).click();
      await page.getByRole("heading", { name: heading, exact: true }).waitFor();
      await shot(link.toLowerCase());
    }
    expect(pageErrors).toEqual([]);
  });
});
