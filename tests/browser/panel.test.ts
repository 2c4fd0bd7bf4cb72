import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page, type WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { chromiumForTests } from "../support/chromium.js";
import { gid } from "../support/ids.js";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { type SeededKey, seed } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";

/** CHROMIUM_PATH or an installed Chromium; none skips this file with the reason (fails under .ci/run). */
const CHROMIUM = chromiumForTests("tests/browser/panel.test.ts").path;
const SCREENSHOTS = path.resolve("test-artifacts/screenshots");

// Pages render after requests to a server that shares two cores with other test files: wait on conditions for up
// to 10 s (vitest's default for expect.poll is 1 s, which a busy machine overruns).
vi.setConfig({ expect: { poll: { timeout: 10_000 } } });

let server: SignalpostProcess | undefined;
let baseUrl: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let receiver: TestReceiver;
let admin: SeededKey;
/** Uncaught exceptions and console errors of the page, over the whole file: asserted empty at the end. */
const pageErrors: string[] = [];

/**
 * The panel's WebSockets pass through Playwright's router, so a test can drop them (a network loss) and refuse new
 * ones for a while, and can read what the panel sent (to check it resumes with `after`).
 */
const openSockets = new Set<WebSocketRoute>();
let acceptSockets = true;
const framesSent: string[] = [];

beforeAll(async () => {
  if (!CHROMIUM) return;
  server = runSignalpost(["serve", "--role", "all"], {
    DATABASE_URL: process.env.DATABASE_URL,
    PORT: "0",
    HOST: "127.0.0.1",
    SIGNALPOST_ALLOW_INSECURE_URLS: "true",
  });
  baseUrl = `http://127.0.0.1:${await servingPort(server)}`;
  receiver = await TestReceiver.start();
  // The operator's key too: the settings page checks an instance field's value (metrics port).
  admin = await seed.tenantWithKey({ scopes: ["admin", "instance:admin"] });
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-background-networking"],
  });
  context = await browser.newContext({ baseURL: baseUrl });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  await context.routeWebSocket(/\/graphql$/, (socket) => {
    if (!acceptSockets) {
      void socket.close({ code: 1012, reason: "test: network down" });
      return;
    }
    const upstream = socket.connectToServer();
    openSockets.add(socket);
    socket.onMessage((frame) => {
      framesSent.push(String(frame));
      upstream.send(frame);
    });
  });
  page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(`console: ${message.text()}`);
  });
});
afterAll(async () => {
  await browser?.close();
  server?.child.kill("SIGTERM");
  await server?.exited;
  await receiver?.close();
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** A GraphQL call straight to the server, as another client of the same tenant would make it. */
async function api(query: string, variables: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...admin.headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data ?? {};
}

const status = () => page.locator("#status").textContent();
const liveState = () => page.locator("#connection").getAttribute("data-state");
const consoleLines = () => page.getByTestId("console").locator(".line");

describe.skipIf(!CHROMIUM)("the web developer panel at /console", () => {
  it("refuses a wrong key, then signs in with the API key and goes live", async () => {
    await page.goto("/console");
    await shot("sign-in");
    expect(await page.getByRole("button", { name: "Sign out" }).isHidden()).toBe(true);
    const errorsBefore = pageErrors.length;
    await page.getByLabel("API key").fill("sp_not_a_real_key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator('[data-error-for="apiKey"]').textContent()).toMatch(/Sign-in failed/);
    // The browser logs the refused request (HTTP 401) itself; that one is expected, nothing else is.
    expect(pageErrors.splice(errorsBefore).filter((error) => !error.includes("401"))).toEqual([]);

    await page.getByLabel("API key").fill(admin.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Endpoints" }).waitFor();
    await expect.poll(liveState).toBe("live");
    // Only the session token it was exchanged for is kept, not the key.
    const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
    expect(stored).not.toContain(admin.token);
    expect(stored).toMatch(/"signalpost.session":"ey/);
  });

  it("adds an endpoint at a receiver (field errors first), shows its secret once, and sends it a test", async () => {
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const form = page.getByRole("form", { name: "Add an endpoint" });
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute("name"))).toBe("name");
    await form.getByLabel("Name").fill("receiver");
    await form.getByLabel("URL").fill("ftp://example.com/hook");
    await form.getByRole("button", { name: "Add endpoint" }).click();
    // The API's ValidationError names the field: the message appears under it.
    await expect.poll(() => form.locator('[data-error-for="url"]').textContent()).not.toBe("");
    expect(await form.getByLabel("URL").getAttribute("aria-invalid")).toBe("true");

    await form.getByLabel("URL").fill(receiver.url);
    await form.getByRole("button", { name: "Add endpoint" }).click();
    expect(await page.getByTestId("secret-value").textContent()).toMatch(/^whsec_/);
    await page.getByRole("button", { name: "Done" }).click();
    await expect.poll(() => page.getByTestId("shown-once").count()).toBe(0);

    const row = page.locator('tr[data-endpoint="receiver"]');
    expect(await row.textContent()).toContain("whsec_••••");
    expect(await row.textContent()).toContain("HEALTHY");
    await row.getByRole("button", { name: "Send test" }).click();
    await expect.poll(() => row.getByTestId("test-result").textContent()).toMatch(/^200 in \d+ ms$/);
    expect((await receiver.waitForRequests(1))[0]?.headers["webhook-signature"]).toMatch(/^v1,/);

    await page.getByRole("link", { name: "Live console" }).click();
    const line = page.locator('[data-testid="console"] [data-kind="TEST_SENT"]');
    await line.first().waitFor();
    expect(await line.count()).toBe(1);
    expect(await page.getByTestId("console").getAttribute("aria-live")).toBe("polite");
  });

  it("confirms in a dialog that focuses Cancel and closes on Escape, then rotates the secret", async () => {
    await page.getByRole("link", { name: "Endpoints" }).click();
    const row = page.locator('tr[data-endpoint="receiver"]');
    const maskedBefore = await row.locator(".mono").nth(1).textContent();
    await row.getByRole("button", { name: "Rotate" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Cancel");
    await page.keyboard.press("Escape");
    await expect.poll(() => dialog.count()).toBe(0);
    expect(await row.locator(".mono").nth(1).textContent()).toBe(maskedBefore);

    await row.getByRole("button", { name: "Rotate" }).click();
    await dialog.getByRole("button", { name: "Rotate" }).click();
    const secret = await page.getByTestId("secret-value").textContent();
    expect(secret).toMatch(/^whsec_/);
    await expect.poll(() => row.locator(".mono").nth(1).textContent()).not.toBe(maskedBefore);
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.locator("main").textContent()).not.toContain(secret as string);
  });

  it("keeps the live console going across a network loss, resuming after the last line without repeats", async () => {
    await page.getByRole("link", { name: "Live console" }).click();
    await expect.poll(liveState).toBe("live");
    const lastCursor = await consoleLines().last().getAttribute("data-cursor");
    expect(lastCursor).toBeTruthy();

    acceptSockets = false;
    for (const socket of openSockets) await socket.close({ code: 1012, reason: "test: network down" });
    openSockets.clear();
    await expect.poll(liveState).toBe("reconnecting");
    // Something happens while the panel is cut off: it must show up after the reconnect.
    await api(`mutation { createApiKey(input: { name: "made during the outage", scopes: [ENDPOINTS_READ] }) {
      __typename } }`);
    const framesBefore = framesSent.length;
    acceptSockets = true;

    await expect.poll(liveState, { timeout: 10_000 }).toBe("live");
    const missed = page
      .locator('[data-testid="console"] [data-kind="API_KEY_CREATED"]')
      .filter({ hasText: "made during the outage" });
    await missed.first().waitFor();
    expect(await missed.count()).toBe(1);
    const subscribe = framesSent
      .slice(framesBefore)
      .map((frame) => JSON.parse(frame) as { type: string; payload?: { variables?: Record<string, unknown> } })
      .find((frame) => frame.type === "subscribe");
    expect(subscribe?.payload?.variables).toMatchObject({ after: lastCursor, last: null });
    const cursors = await consoleLines().evaluateAll((lines) => lines.map((line) => line.getAttribute("data-cursor")));
    expect(new Set(cursors).size).toBe(cursors.length);
    expect(await page.locator('[data-testid="console"] [data-kind="TEST_SENT"]').count()).toBe(1);
  });

  it("generates an API key, shows it once, and only masked after it is copied", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    const form = page.getByRole("form", { name: "Generate an API key" });
    await form.getByLabel("Name").fill("ci key");
    await form.getByLabel("endpoints:read").check();
    await form.getByRole("button", { name: "Generate key" }).click();
    const shown = (await page.getByTestId("secret-value").textContent()) as string;
    expect(shown).toMatch(/^sp_/);
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    await page.getByTestId("masked-key").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(shown);
    // Gone from the page: only the masked form is left, in the notice and in the table.
    expect(await page.locator("main").textContent()).not.toContain(shown);
    const masked = (await page.getByTestId("masked-key").textContent()) as string;
    expect(shown.endsWith(masked.slice(-4))).toBe(true);
    const row = page.locator('tr[data-key="ci key"]');
    await expect.poll(() => row.textContent()).toContain(masked);
    expect(await row.textContent()).toContain("endpoints:read");
  });

  it("adds an agent, validates its payload schema, and sends it a test webhook", async () => {
    await page.getByRole("link", { name: "Agents", exact: true }).click();
    const form = page.getByRole("form", { name: "Add agent" });
    await form.getByLabel("Name").fill("orders");
    await form.getByRole("button", { name: "Add agent" }).click();
    expect(await page.getByTestId("secret-value").textContent()).toBeTruthy();
    await page.getByRole("button", { name: "Done" }).click();
    const card = page.getByRole("region", { name: "orders" });
    expect(await card.textContent()).toMatch(
      /Webhook URL: http:\/\/localhost:\d+\/agents\/[A-Za-z0-9_-]{40,}\/webhook/,
    );
    expect(await card.getByTestId("masked-secret").textContent()).toContain("••••");

    const schema = card.getByRole("form", { name: "Payload schema of orders" });
    const schemaError = schema.locator('[data-error-for="payloadSchema"]');
    await schema.getByLabel(/Payload schema/).fill("{ not json");
    await schema.getByRole("button", { name: "Save schema" }).click();
    await expect.poll(() => schemaError.textContent()).toMatch(/^Not valid JSON/);
    // Valid JSON but not a JSON Schema: the server refuses it and names the field.
    await schema.getByLabel(/Payload schema/).fill('{ "type": "nonsense" }');
    await schema.getByRole("button", { name: "Save schema" }).click();
    await expect.poll(() => schemaError.textContent()).not.toMatch(/^Not valid JSON|^$/);
    await schema.getByLabel(/Payload schema/).fill('{ "type": "object" }');
    await schema.getByRole("button", { name: "Save schema" }).click();
    await expect.poll(status).toBe("Schema of orders saved");
    expect(await schemaError.textContent()).toBe("");

    await card.getByRole("button", { name: "Send test webhook" }).click();
    await expect.poll(() => card.getByTestId("test-result").textContent()).toMatch(/^The agent answered 202: \{/);
  });

  it("retries a delivery from the log and shows settings' field errors", async () => {
    await page.getByRole("link", { name: "Deliveries", exact: true }).click();
    await page.getByRole("form", { name: "Filter deliveries" }).getByLabel("Endpoint").selectOption("receiver");
    await page.getByRole("button", { name: "Filter" }).click();
    await page
      .getByRole("button", { name: /^Retry delivery/ })
      .first()
      .click();
    await expect.poll(status).toMatch(/^Sent again: 200/);
    await receiver.waitForRequests(2);

    await page.getByRole("link", { name: "Settings", exact: true }).click();
    const form = page.getByRole("form", { name: "Settings" });
    const metricsPort = await form.getByLabel("Metrics port").inputValue();
    await form.getByLabel("Metrics port").fill("80");
    await form.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => form.locator('[data-error-for="metricsPort"]').textContent()).not.toBe("");
    await form.getByLabel("Keep console events (days)").fill("14");
    await form.getByLabel("Metrics port").fill(metricsPort);
    await form.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(status).toBe("Settings saved");
    expect(await form.getByLabel("Keep console events (days)").inputValue()).toBe("14");
  });

  it("opens every page without errors (screenshots in test-artifacts/screenshots)", async () => {
    for (const [link, heading, file] of [
      ["Endpoints", "Endpoints", "endpoints"],
      ["Deliveries", "Deliveries", "deliveries"],
      ["Health", "Endpoint health", "health"],
      ["Agents", "Agents", "agents"],
      ["Event types", "Event types", "event-types"],
      ["API keys", "API keys", "keys"],
      ["Audit log", "Audit log", "audit"],
      ["Settings", "Settings", "settings"],
      ["Docs", "Docs", "docs"],
      // Last: the next test reads the console's lines on this page.
      ["Live console", "Live console", "console"],
    ] as const) {
      await page.getByRole("link", { name: link, exact: true }).click();
      await page.getByRole("heading", { name: heading, exact: true }).waitFor();
      expect(await page.getByRole("link", { name: link, exact: true }).getAttribute("aria-current")).toBe("page");
      await shot(file);
    }
    expect(pageErrors).toEqual([]);
  });

  it("keeps only the newest 500 console lines", async () => {
    const { endpoints } = (await api("{ endpoints(first: 1) { edges { node { id } } } }")) as {
      endpoints: { edges: { node: { id: string } }[] };
    };
    const id = endpoints.edges[0]?.node.id;
    // 260 disable/enable pairs: 520 console events, more than the panel keeps. Fifteen pairs a request, as the
    // GraphQL limits allow 30 aliases in one operation.
    const toggles = Array.from(
      { length: 260 },
      (_, i) => `d${i}: disableEndpoint(id: "${id}") { __typename } e${i}: enableEndpoint(id: "${id}") { __typename }`,
    );
    for (let start = 0; start < toggles.length; start += 15) {
      await api(`mutation { ${toggles.slice(start, start + 15).join(" ")} }`);
    }
    // The newest 500 lines are the last pairs: every older line (the test send, the keys...) has gone. The requests
    // take some seconds, so the key's use, announced every 10 s at most, may take lines among them (how many depends
    // on how busy the machine is; they are as new as the pairs around them).
    const kinds = async () => {
      const all = await consoleLines().evaluateAll((lines) => lines.map((line) => line.getAttribute("data-kind")));
      const toggled = all.filter((kind) => kind !== "API_KEY_USED");
      // The window may then begin with the second half of a pair.
      if (toggled[0] === "ENDPOINT_ENABLED") toggled.shift();
      return {
        lines: all.length,
        pairsOnly: toggled.every(
          (kind, index) => kind === (index % 2 === 0 ? "ENDPOINT_DISABLED" : "ENDPOINT_ENABLED"),
        ),
      };
    };
    const kept = { lines: 500, pairsOnly: true };
    await expect.poll(kinds, { timeout: 15_000 }).toEqual(kept);
    await page.getByRole("link", { name: "Endpoints", exact: true }).click();
    await page.getByRole("heading", { name: "Endpoints", exact: true }).waitFor();
    // Rendered again from the kept lines: the same 500.
    await page.getByRole("link", { name: "Live console", exact: true }).click();
    await expect.poll(kinds).toEqual(kept);
  }, 90_000);

  it("signs out: the session token is gone and the sign-in form is back", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("form", { name: "Sign in" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.locator("nav").isHidden()).toBe(true);
    expect(await page.getByRole("button", { name: "Sign out" }).isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it("goes back to sign-in when the key behind the session is revoked", async () => {
    const other = await seed.keyFor(admin.tenant, { name: "revoked while signed in" });
    await page.getByLabel("API key").fill(other.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Endpoints" }).waitFor();
    await api(`mutation { revokeApiKey(id: "${gid("ApiKey", other.apiKey.id)}") { __typename } }`);
    const errorsBefore = pageErrors.length;
    await page.getByRole("link", { name: "Deliveries", exact: true }).click();
    await page.getByRole("form", { name: "Sign in" }).waitFor();
    await expect.poll(status).toMatch(/sign in again$/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(pageErrors.splice(errorsBefore).filter((error) => !error.includes("401"))).toEqual([]);
  });
});
