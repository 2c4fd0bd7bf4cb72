import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumForTests } from "../support/chromium.js";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";

/** CHROMIUM_PATH or an installed Chromium; none skips this file with the reason (fails under .ci/run). */
const CHROMIUM = chromiumForTests("tests/browser/graphiql.test.ts").path;

let server: SignalpostProcess | undefined;
let browser: Browser;
let page: Page;
/** Every request the page tried to send off this machine (all refused, as behind a firewall). */
const offMachine: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!CHROMIUM) return;
  server = runSignalpost(["serve", "--role", "all"], {
    DATABASE_URL: process.env.DATABASE_URL,
    PORT: "0",
    HOST: "127.0.0.1",
  });
  const baseUrl = `http://127.0.0.1:${await servingPort(server)}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-background-networking"],
  });
  const context = await browser.newContext({ baseURL: baseUrl });
  // No internet: any request to a host other than this machine fails, and is counted.
  await context.route(
    (url) => !["127.0.0.1", "localhost"].includes(url.hostname) && /^(https?|wss?):$/.test(url.protocol),
    async (route) => {
      offMachine.push(route.request().url());
      await route.abort("internetdisconnected");
    },
  );
  page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
});
afterAll(async () => {
  await browser?.close();
  server?.child.kill("SIGTERM");
  await server?.exited;
});

/** Replaces the text of GraphiQL's query editor (Monaco) and runs it with the execute button. */
async function run(query: string): Promise<void> {
  const editor = page.locator(".graphiql-query-editor .monaco-editor").first();
  await editor.click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(query);
  await page.locator(".graphiql-execute-button").click();
}

/** The result pane's JSON (Monaco renders spaces as no-break spaces), or null while it is empty or partial. */
async function response(): Promise<{ data?: Record<string, unknown>; errors?: unknown[] } | null> {
  const text = (await page.locator(".graphiql-response").innerText()).replace(/\u00a0/g, " ");
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const sequence = async () => ((await response())?.data?.heartbeat as { sequence?: number } | undefined)?.sequence;

describe.skipIf(!CHROMIUM)("GraphiQL at /graphql without internet access", () => {
  it("renders the editor from the server's own files, nothing fetched off the machine", async () => {
    await page.goto("/graphql");
    await page.locator(".graphiql-query-editor .monaco-editor").first().waitFor();
    expect(await page.title()).toBe("Signalpost GraphiQL");
    expect(offMachine).toEqual([]);
  });

  it("runs a query (the docs' introspection passes the limits) and shows the result", async () => {
    await run("{ __typename }");
    await expect.poll(response).toEqual({ data: { __typename: "Query" } });
    // GraphiQL introspects the schema for its docs pane; the docs explorer lists the root types once it succeeded.
    await page.getByRole("button", { name: /Show Documentation Explorer/i }).click();
    await expect.poll(() => page.locator(".graphiql-doc-explorer").innerText()).toMatch(/Query/);
  });

  it("runs a subscription over graphql-ws and shows its events as they arrive", async () => {
    await run("subscription { heartbeat(intervalMs: 200) { sequence } }");
    await expect.poll(sequence).toBeTypeOf("number");
    const first = (await sequence()) as number;
    // The pane follows the stream: a later event replaces the first one.
    await expect.poll(sequence).toBeGreaterThan(first);
    expect(offMachine).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
