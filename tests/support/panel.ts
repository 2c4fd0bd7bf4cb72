import { type Browser, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import type { Scope } from "../../src/modules/identity/scopes.js";
import { runSignalpost, type SignalpostProcess, servingPort } from "./process.js";
import { type SeededKey, seed } from "./seed.js";

/**
 * A Signalpost server process (role all, this file's database) and a headless Chromium page on its panel, signed in
 * with a tenant admin key. The page's uncaught exceptions and console errors are collected in `pageErrors`.
 */
export interface Panel {
  baseUrl: string;
  browser: Browser;
  page: Page;
  admin: SeededKey;
  pageErrors: string[];
  /** A GraphQL call straight to the server with the admin key, as another client of the same tenant would make it. */
  api<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

export async function startPanel(chromiumPath: string, options: { scopes?: Scope[] } = {}): Promise<Panel> {
  const server: SignalpostProcess = runSignalpost(["serve", "--role", "all"], {
    DATABASE_URL: process.env.DATABASE_URL,
    PORT: "0",
    HOST: "127.0.0.1",
    SIGNALPOST_ALLOW_INSECURE_URLS: "true",
  });
  let browser: Browser | undefined;
  try {
    const baseUrl = `http://127.0.0.1:${await servingPort(server)}`;
    const admin = await seed.tenantWithKey({ scopes: options.scopes ?? ["admin"] });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ["--headless", "--no-sandbox", "--disable-background-networking"],
    });
    const openedBrowser = browser;
    const context = await browser.newContext({ baseURL: baseUrl, acceptDownloads: true });
    // Copy buttons are checked by reading the clipboard back.
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(`console: ${message.text()}`);
    });

    await page.goto("/console");
    await page.getByLabel("API key").fill(admin.token);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Endpoints", exact: true }).waitFor();
    return {
      baseUrl,
      browser: openedBrowser,
      page,
      admin,
      pageErrors,
      async api<T>(query: string, variables: Record<string, unknown> = {}) {
        const response = await fetch(`${baseUrl}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", ...admin.headers },
          body: JSON.stringify({ query, variables }),
        });
        const body = (await response.json()) as { data?: T; errors?: unknown[] };
        expect(body.errors).toBeUndefined();
        return body.data as T;
      },
      async stop() {
        await openedBrowser.close();
        server.child.kill("SIGTERM");
        await server.exited;
      },
    };
  } catch (error) {
    // A start that fails half-way (a busy machine timing out) must not leave the server or the browser running.
    await browser?.close();
    server.child.kill("SIGTERM");
    await server.exited;
    throw error;
  }
}

/** The element that has focus, described for assertions: its tag, name attribute and text. */
export async function focused(page: Page): Promise<{ tag?: string; name?: string | null; text?: string | null }> {
  return page.evaluate(() => {
    const element = document.activeElement;
    return { tag: element?.tagName, name: element?.getAttribute("name"), text: element?.textContent };
  });
}
