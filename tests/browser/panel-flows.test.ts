import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { chromiumForTests } from "../support/chromium.js";
import { focused, type Panel, startPanel } from "../support/panel.js";
import { TestReceiver } from "../support/test-receiver.js";

/**
 * The panel's flows beyond the basics of panel.test.ts, each driven through the keyboard where it matters: delivery
 * detail, agents, event types, the audit log, delivery filters/export/recovery, endpoint edit and API key expiry.
 */
const CHROMIUM = chromiumForTests("tests/browser/panel-flows.test.ts").path;
const SCREENSHOTS = path.resolve("test-artifacts/screenshots");

// A page renders after a few requests to a server that shares two cores with other test files: wait on conditions
// for up to 10 s (vitest's default for expect.poll is 1 s).
vi.setConfig({ expect: { poll: { timeout: 10_000 } } });

let panel: Panel;
let page: Page;
let receiver: TestReceiver;

beforeAll(async () => {
  if (!CHROMIUM) return;
  receiver = await TestReceiver.start();
  panel = await startPanel(CHROMIUM);
  page = panel.page;
  await mkdir(SCREENSHOTS, { recursive: true });
  // A server process, a browser and a sign-in: on a machine this busy that can outlast the 60 s default.
}, 120_000);
afterAll(async () => {
  await panel?.stop();
  await receiver?.close();
});

const status = () => page.locator("#status").textContent();
const errorFor = (form: Locator, name: string) => form.locator(`[data-error-for="${name}"]`).textContent();

/** A screenshot of the page from its top, at most `height` pixels of it (the README shows these, from docs/). */
async function shot(name: string, height = 1600): Promise<void> {
  const pageHeight = await page.evaluate(() => document.documentElement.scrollHeight);
  const width = page.viewportSize()?.width ?? 1280;
  await page.screenshot({
    path: path.join(SCREENSHOTS, `${name}.png`),
    fullPage: true,
    clip: { x: 0, y: 0, width, height: Math.min(height, pageHeight) },
  });
}

/** Goes to a section through its nav link, by keyboard: focus it, press Enter. */
async function open(link: string, heading = link): Promise<void> {
  await page.getByRole("link", { name: link, exact: true }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: heading, exact: true }).waitFor();
}

/** A datetime-local input's value, `offsetMinutes` from now in the browser's time zone. */
function local(offsetMinutes: number): Promise<string> {
  return page.evaluate((minutes) => {
    const at = new Date(Date.now() + minutes * 60_000);
    at.setMinutes(at.getMinutes() - at.getTimezoneOffset());
    return at.toISOString().slice(0, 16);
  }, offsetMinutes);
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

  it("runs an agent: status, actions per type with the transform, schema examples and Validate, the secret, executions, delete", async () => {
    await open("Agents");
    const add = page.getByRole("form", { name: "Add agent" });
    await add.getByLabel("Name").fill("helpdesk");
    await add.getByLabel("Name").press("Enter");
    const secret = (await page.getByTestId("secret-value").textContent()) as string;
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByRole("link", { name: "Manage helpdesk" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Agent helpdesk" }).waitFor();
    const agentStatus = () => page.locator("[data-agent-status]").textContent();
    expect(await agentStatus()).toBe("ACTIVE");
    expect(await page.getByRole("button", { name: "Activate", exact: true }).isDisabled()).toBe(true);

    // Suspend, deactivate, activate: each is the agent's status as the API has it.
    await page.getByRole("button", { name: "Suspend" }).click();
    await expect.poll(agentStatus).toBe("SUSPENDED");
    await page.getByRole("button", { name: "Deactivate" }).click();
    await expect.poll(agentStatus).toBe("INACTIVE");
    await page.getByRole("button", { name: "Activate", exact: true }).click();
    await expect.poll(agentStatus).toBe("ACTIVE");

    // Actions: one form per type. A header that may not be forwarded is refused next to its input.
    const actions = page.getByRole("form", { name: "Actions of helpdesk" });
    for (const type of ["emitEvent", "forward", "relay"]) {
      await actions.getByLabel("New action type").selectOption(type);
      await actions.getByRole("button", { name: "Add action" }).click();
    }
    // Focus moves into each new action: a relay has no inputs, so its Remove button.
    expect(await focused(page)).toMatchObject({ tag: "BUTTON", text: "Remove" });
    await actions.getByLabel("Event type").fill("order.created");
    await actions.getByLabel("Endpoint").selectOption({ label: "orders-receiver" });
    await actions.getByLabel("Request headers to forward").fill("authorization");
    await actions.getByRole("button", { name: "Save actions" }).click();
    await expect.poll(() => errorFor(actions, "actions.1.headers")).toBe("authorization cannot be forwarded");
    expect(await actions.getByLabel("Request headers to forward").getAttribute("aria-invalid")).toBe("true");
    await actions.getByLabel("Request headers to forward").fill("x-ticket");
    await actions.getByLabel(/JSONata transform/).fill("{ orderId: ");
    await actions.getByRole("button", { name: "Save actions" }).click();
    await expect.poll(() => errorFor(actions, "transform")).toMatch(/\(at character \d+\)$/);
    expect(await errorFor(actions, "actions.1.headers")).toBe("");
    await actions
      .getByLabel(/JSONata transform/)
      .fill('fail ? $error("the ticket is broken") : { "orderId": data.id }');
    await actions.getByRole("button", { name: "Save actions" }).click();
    await expect.poll(status).toBe("Actions of helpdesk saved");
    const saved = await panel.api<{ agents: { edges: { node: { id: string; actions: unknown } }[] } }>(
      "{ agents(first: 10) { edges { node { id name actions } } } }",
    );
    const agent = saved.agents.edges[0]?.node;
    expect(agent?.actions).toEqual([
      { type: "emitEvent", eventType: "order.created" },
      { type: "forward", endpointId, headers: ["x-ticket"] },
      { type: "relay" },
    ]);
    // Removing one renders the rest again, values kept.
    await actions.getByRole("button", { name: "Remove action 3" }).click();
    expect(await actions.locator("fieldset.action").count()).toBe(2);
    expect(await actions.getByLabel("Request headers to forward").inputValue()).toBe("x-ticket");

    // The schema: an example from the dropdown, Validate a sample (refused, then passing), a broken schema, save.
    const schema = page.getByRole("form", { name: "Payload schema of helpdesk" });
    await schema.getByLabel("Start from an example schema").selectOption({ label: "Generic event" });
    expect(JSON.parse(await schema.getByLabel(/^Payload schema/).inputValue())).toMatchObject({ required: ["type"] });
    await schema.getByLabel("Sample payload to validate").fill('{ "data": {} }');
    await schema.getByRole("button", { name: "Validate" }).click();
    await expect.poll(() => errorFor(schema, "samplePayload")).toMatch(/must have required property 'type'/);
    await schema.getByLabel("Sample payload to validate").fill('{ "type": "ticket", "data": { "id": "T-1" } }');
    await schema.getByRole("button", { name: "Validate" }).click();
    await expect
      .poll(() => schema.getByTestId("validate-result").textContent())
      .toBe("Valid: the sample satisfies the schema");
    expect(await errorFor(schema, "samplePayload")).toBe("");
    const generic = await schema.getByLabel(/^Payload schema/).inputValue();
    await schema.getByLabel(/^Payload schema/).fill('{ "type": "nonsense" }');
    await schema.getByRole("button", { name: "Validate" }).click();
    await expect.poll(() => errorFor(schema, "payloadSchema")).not.toBe("");
    await schema.getByLabel(/^Payload schema/).fill(generic);
    await schema.getByRole("button", { name: "Save schema" }).click();
    await expect.poll(status).toBe("Schema of helpdesk saved");

    // The secret: shown on request (audited), hidden again.
    const shown = page.getByTestId("agent-secret");
    const masked = await shown.textContent();
    expect(masked).toContain("••••");
    await page.getByRole("button", { name: "Show secret" }).click();
    await expect.poll(() => shown.textContent()).toBe(secret);
    expect(await page.getByRole("button", { name: "Hide secret" }).getAttribute("aria-pressed")).toBe("true");
    await page.getByRole("button", { name: "Hide secret" }).click();
    expect(await shown.textContent()).toBe(masked);
    expect(await page.locator("main").textContent()).not.toContain(secret);

    // Executions: one that ran (payload and result) and one whose transform failed (its error).
    const test = page.getByRole("form", { name: "Test webhook for helpdesk" });
    await test.getByLabel("Test payload").fill('{ "type": "ticket", "data": { "id": "T-1" } }');
    await test.getByRole("button", { name: "Send test webhook" }).click();
    await expect.poll(() => test.getByTestId("test-result").textContent()).toMatch(/^The agent answered 202/);
    await test.getByLabel("Test payload").fill('{ "type": "ticket", "fail": true }');
    await test.getByRole("button", { name: "Send test webhook" }).click();
    await expect.poll(() => test.getByTestId("test-result").textContent()).toMatch(/^The agent answered 202/);
    const executions = page.getByTestId("executions");
    // The failing one is QUEUED between its retries (FAILED after the last), with the error of its last run; a run
    // in progress clears it, so refresh until the list shows both outcomes.
    await expect
      .poll(async () => {
        await page.getByRole("button", { name: "Refresh executions" }).click();
        return executions
          .locator("details")
          .evaluateAll((items) =>
            items
              .map(
                (item) =>
                  `${item.getAttribute("data-status")}${item.querySelector("pre[data-testid=execution-error]") ? " with error" : ""}`,
              )
              .sort(),
          );
      })
      .toEqual([expect.stringMatching(/^(QUEUED|FAILED) with error$/), "SUCCEEDED"]);
    const ran = executions.locator('details[data-status="SUCCEEDED"]');
    await ran.locator("summary").click();
    expect(JSON.parse((await ran.getByTestId("execution-payload").textContent()) as string)).toEqual({
      type: "ticket",
      data: { id: "T-1" },
    });
    expect(JSON.parse((await ran.getByTestId("execution-result").textContent()) as string)).toMatchObject({
      payload: { orderId: "T-1" },
    });
    const failed = executions.locator("details:not([data-status=SUCCEEDED])");
    await failed.locator("summary").focus();
    await page.keyboard.press("Enter");
    expect(await failed.getByTestId("execution-error").textContent()).toContain("the ticket is broken");
    await shot("agent-detail");

    // Delete, confirmed: back on the list, which no longer has it.
    await page.getByRole("button", { name: "Delete agent" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await page.getByRole("heading", { name: "Agents", exact: true }).waitFor();
    await expect.poll(status).toBe("helpdesk deleted");
    expect(await page.getByRole("region", { name: "helpdesk" }).count()).toBe(0);
    expect(panel.pageErrors).toEqual([]);
  }, 60_000);

  it("verifies an agent's sender: scheme picker, what it sends, Copy secret, and a test payload from the schema", async () => {
    const created = await panel.api<{ createAgent: { secret: string } }>(
      `mutation { createAgent(input: { name: "billing", status: ACTIVE,
        payloadSchema: { type: "object", required: ["invoiceId"], properties: { invoiceId: { type: "integer" } } } }) {
        ... on CreatedAgent { secret } ... on Error { message } } }`,
    );
    // From another page: the previous test leaves the agents list open, which would not load again.
    await open("Endpoints");
    await open("Agents");
    await page.getByRole("link", { name: "Manage billing" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Agent billing" }).waitFor();
    // The warning, and Copy secret: the secret goes to the clipboard, the page keeps showing only the masked form.
    expect(await page.getByTestId("secret-warning").textContent()).toContain("Keep this secret safe");
    await page.getByRole("button", { name: "Copy secret" }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(created.createAgent.secret);
    expect(await page.locator("main").textContent()).not.toContain(created.createAgent.secret);
    // The test payload starts from the schema, so the first test is accepted as it stands.
    const test = page.getByRole("form", { name: "Test webhook for billing" });
    expect(Object.keys(JSON.parse(await test.getByLabel("Test payload").inputValue()))).toEqual(["invoiceId"]);
    await test.getByRole("button", { name: "Send test webhook" }).click();
    await expect.poll(() => test.getByTestId("test-result").textContent()).toMatch(/^The agent answered 202/);

    // Slack makes the secret: picked with Slack's, the agent verifies Slack's signature with it.
    const verification = page.getByRole("form", { name: "Verification of billing" });
    const secretField = verification.getByLabel(/signing secret/);
    await verification.getByLabel("Scheme").selectOption("SLACK");
    await secretField.fill("short");
    await verification.getByRole("button", { name: "Save verification" }).click();
    await expect.poll(() => errorFor(verification, "secret")).toContain("8 to 256");
    await secretField.fill("slack-signing-secret-0123456789");
    await verification.getByRole("button", { name: "Save verification" }).click();
    await expect.poll(status).toBe("billing verifies Slack requests");
    await expect.poll(() => page.getByTestId("sender-sends").textContent()).toContain("X-Slack-Signature");
    const saved = await panel.api<{
      agents: { edges: { node: { name: string; verification: { scheme: string } } }[] };
    }>("{ agents(first: 20) { edges { node { name verification { scheme } } } } }");
    expect(saved.agents.edges.find(({ node }) => node.name === "billing")?.node.verification.scheme).toBe("SLACK");
    // The test sender now signs as Slack does, with Slack's secret, and is accepted.
    const again = page.getByRole("form", { name: "Test webhook for billing" });
    await again.getByRole("button", { name: "Send test webhook" }).click();
    await expect.poll(() => again.getByTestId("test-result").textContent()).toMatch(/^The agent answered 202/);
    await shot("agent-verification");
    expect(panel.pageErrors).toEqual([]);
  }, 60_000);

  it("creates event types with a schema and a checked example, refuses bad input by field, and archives", async () => {
    await open("Event types");
    const form = page.getByRole("form", { name: "Create an event type" });
    await form.getByLabel("Name").fill("bad name!");
    await form
      .getByLabel(/^JSON Schema/)
      .fill('{ "type": "object", "required": ["amount"], "properties": { "amount": { "type": "number" } } }');
    await form.getByLabel(/^Example payload/).fill('{ "amount": "ten" }');
    await form.getByRole("button", { name: "Validate example" }).click();
    await expect.poll(() => errorFor(form, "example")).toMatch(/^payload\/amount must be number/);
    // Create checks the example too, before anything is saved.
    await form.getByRole("button", { name: "Create event type" }).click();
    await expect.poll(() => errorFor(form, "example")).toMatch(/^payload\/amount must be number/);
    await form.getByLabel(/^Example payload/).fill('{ "amount": 10 }');
    await form.getByLabel("Name").press("Enter");
    await expect.poll(() => errorFor(form, "name")).toMatch(/^a name is 1-100 of/);
    expect(await errorFor(form, "example")).toBe("");
    await form.getByLabel("Name").fill("invoice.paid");
    await form.getByLabel("Name").press("Enter");
    await expect.poll(status).toBe("Event type invoice.paid created");
    const row = page.locator('tr[data-event-type="invoice.paid"]');
    await row.getByText("Schema").click();
    expect(JSON.parse((await row.locator("pre").textContent()) as string)).toMatchObject({ required: ["amount"] });

    // The same name again: the conflict is shown under the name.
    await form.getByLabel("Name").fill("invoice.paid");
    await form.getByRole("button", { name: "Create event type" }).click();
    await expect.poll(() => errorFor(form, "name")).toBe('an event type named "invoice.paid" already exists');

    await row.getByRole("button", { name: "Archive invoice.paid" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Archive" }).click();
    await expect.poll(status).toBe("invoice.paid archived");
    await expect.poll(() => row.count()).toBe(0);
    await page.getByLabel("Show archived types").check();
    await expect.poll(() => row.getByTestId("archived").textContent()).toMatch(/^archived /);
    expect(panel.pageErrors).toEqual([]);
  });

  it("filters the audit log by action, actor and time", async () => {
    // Another actor: a key of the same tenant that changes one thing.
    const { createApiKey } = await panel.api<{ createApiKey: { secret: string } }>(
      `mutation { createApiKey(input: { name: "auditor", scopes: [ENDPOINTS_WRITE] }) {
        ... on CreatedApiKey { secret } } }`,
    );
    const byAuditor = await fetch(`${panel.baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${createApiKey.secret}` },
      body: JSON.stringify({ query: 'mutation { createEventType(input: { name: "audit.probe" }) { __typename } }' }),
    });
    expect(await byAuditor.json()).toEqual({ data: { createEventType: { __typename: "EventType" } } });

    await open("Audit log");
    const form = page.getByRole("form", { name: "Filter the audit log" });
    const actions = () =>
      page.locator("tbody tr[data-action]").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-action")));
    await form.getByLabel("Action").fill("agent_secret.revealed");
    await form.getByLabel("Action").press("Enter");
    // The helpdesk agent's Show secret and the billing agent's Copy secret, each a reveal.
    await expect.poll(actions).toEqual(["agent_secret.revealed", "agent_secret.revealed"]);

    await form.getByLabel("Action").fill("");
    await form.getByLabel("Actor").selectOption({ label: "API key auditor" });
    await form.getByRole("button", { name: "Filter" }).click();
    await expect.poll(actions).toEqual(["event_type.created"]);
    expect(await page.locator("tbody tr").first().textContent()).toContain("auditor");

    // Time: a window in the future has nothing; an empty window is refused next to Until.
    await form.getByLabel("Actor").selectOption({ label: "anyone" });
    await form.getByLabel("From").fill(await local(60));
    await form.getByLabel("Until").fill(await local(30));
    await form.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => errorFor(form, "until")).toBe("Until must be after From");
    await form.getByLabel("Until").fill("");
    await form.getByRole("button", { name: "Filter" }).click();
    await page.getByTestId("no-entries").waitFor();
    expect(await errorFor(form, "until")).toBe("");
    await form.getByLabel("From").fill(await local(-60));
    await form.getByRole("button", { name: "Filter" }).click();
    await expect.poll(async () => (await actions()).length).toBeGreaterThan(5);
    expect(panel.pageErrors).toEqual([]);
  });

  it("filters deliveries by event type and dates, exports them as CSV and NDJSON, and recovers an endpoint", async () => {
    const flaky = await TestReceiver.start();
    flaky.respondWith({ status: 500 });
    await panel.api(`mutation ($input: CreateEndpointInput!) { createEndpoint(input: $input) { __typename } }`, {
      input: {
        name: "flaky",
        url: flaky.url,
        eventTypes: ["audit.probe"],
        retryPolicy: { delaysSeconds: [1], maxAttempts: 1 },
      },
    });
    for (const n of [1, 2])
      await panel.api(`mutation { publishEvent(input: { eventType: "audit.probe", payload: { n: ${n} } }) {
        __typename } }`);
    const failedOfFlaky = async () => {
      const { deliveries } = await panel.api<{ deliveries: { edges: { node: { endpoint: { name: string } } }[] } }>(
        "{ deliveries(first: 50, filter: { statuses: [FAILED] }) { ... on DeliveryConnection { edges { node { endpoint { name } } } } } }",
      );
      return deliveries.edges.filter(({ node }) => node.endpoint.name === "flaky").length;
    };
    await expect.poll(failedOfFlaky, { timeout: 15_000 }).toBe(2);

    await open("Deliveries");
    const filters = page.getByRole("form", { name: "Filter deliveries" });
    const eventTypes = () =>
      page.locator("tbody tr td:nth-child(2)").evaluateAll((cells) => cells.map((cell) => cell.textContent));
    await filters.getByLabel("Event type").selectOption("audit.probe");
    await filters.getByRole("button", { name: "Filter" }).click();
    // Each of the two events went to both endpoints.
    await expect.poll(eventTypes).toEqual(["audit.probe", "audit.probe", "audit.probe", "audit.probe"]);
    await filters.getByLabel("From").fill(await local(60));
    await filters.getByLabel("Until").fill(await local(30));
    await filters.getByRole("button", { name: "Filter" }).click();
    // The API refuses the empty window and names the field; it shows there.
    await expect
      .poll(() =>
        page.getByRole("form", { name: "Filter deliveries" }).locator('[data-error-for="since"]').textContent(),
      )
      .toBe("since must be before until");
    await page.getByRole("form", { name: "Filter deliveries" }).getByLabel("Until").fill("");
    await page.getByRole("form", { name: "Filter deliveries" }).getByRole("button", { name: "Filter" }).click();
    await page.getByTestId("no-deliveries").waitFor();
    await page
      .getByRole("form", { name: "Filter deliveries" })
      .getByLabel("From")
      .fill(await local(-60));
    await page.getByRole("form", { name: "Filter deliveries" }).getByRole("button", { name: "Filter" }).click();
    await expect.poll(async () => (await eventTypes()).length).toBe(4);

    // Export what the filter shows, in both formats.
    const exporter = page.getByRole("form", { name: "Export deliveries" });
    const exported = async (format: string) => {
      await exporter.getByLabel("Format").selectOption(format);
      const [file] = await Promise.all([
        page.waitForEvent("download"),
        exporter.getByRole("button", { name: "Export" }).click(),
      ]);
      return { name: file.suggestedFilename(), text: await readFile(await file.path(), "utf8") };
    };
    const csv = await exported("CSV");
    expect(csv.name).toBe("deliveries.csv");
    const [header, ...csvRows] = csv.text.trim().split(/\r?\n/);
    expect(header).toContain("eventType");
    expect(csvRows).toHaveLength(4);
    await expect.poll(status).toBe("Exported 4 deliveries as CSV");
    const ndjson = await exported("NDJSON");
    expect(ndjson.name).toBe("deliveries.ndjson");
    const lines = ndjson.text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { eventType: string; body: string });
    expect(lines.map((line) => line.eventType)).toEqual(["audit.probe", "audit.probe", "audit.probe", "audit.probe"]);
    expect(JSON.parse(lines[0]?.body as string)).toMatchObject({ type: "audit.probe" });

    // Recover flaky: a time in the future is refused next to the field; then count (dry run), then recover.
    const recover = page.getByRole("form", { name: "Recover an endpoint" });
    await recover.getByLabel("Endpoint to recover").selectOption({ label: "flaky" });
    await recover.getByLabel("Failed since").fill(await local(60));
    await recover.getByRole("button", { name: "Count failed deliveries" }).click();
    await expect.poll(() => errorFor(recover, "since")).toBe("since must be before until");
    await recover.getByLabel("Failed since").fill(await local(-60));
    await recover.getByLabel("Failed since").press("Enter");
    await expect
      .poll(() => recover.getByTestId("recover-count").textContent())
      .toBe("2 failed deliveries of flaky in that window");
    expect(await errorFor(recover, "since")).toBe("");
    expect(flaky.requests).toHaveLength(2);
    flaky.respondWith({ status: 200 });
    await recover.getByRole("button", { name: "Recover 2 deliveries" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Recover" }).click();
    await expect
      .poll(() => recover.getByTestId("recover-count").textContent())
      .toBe("2 deliveries of flaky queued again");
    await flaky.waitForRequests(4);
    await expect.poll(failedOfFlaky).toBe(0);
    await flaky.close();
    expect(panel.pageErrors).toEqual([]);
  });

  it("edits an endpoint: masked headers, timeout, retries, the TLS toggle with its warning; health; test to all", async () => {
    await open("Endpoints");
    const row = page.locator('tr[data-endpoint="orders-receiver"]');
    await row.getByRole("button", { name: "Edit" }).click();
    const form = page.getByRole("form", { name: "Edit orders-receiver" });
    const headerRows = form.locator(".header-row");
    expect(await headerRows.count()).toBe(1);
    expect(await headerRows.first().getByLabel("Header name").inputValue()).toBe("x-api-key");
    const storedValue = headerRows.first().getByLabel("Value");
    expect(await storedValue.inputValue()).toBe("••••••••");
    expect(await storedValue.getAttribute("type")).toBe("password");

    // Per-endpoint health, with the latency percentiles of its attempts so far.
    const lastHour = form
      .getByRole("table", { name: "Health of orders-receiver" })
      .locator('[data-window="Last hour"]');
    expect(await lastHour.locator("td").first().textContent()).toMatch(/^[1-9]\d*$/);
    expect(await lastHour.locator("td").nth(2).textContent()).toMatch(/^\d+ ms$/);

    // A header Signalpost sets itself is refused under its own row.
    await form.getByRole("button", { name: "Add header" }).click();
    expect(await focused(page)).toMatchObject({ tag: "INPUT" });
    await page.keyboard.type("content-type");
    await page.keyboard.press("Tab");
    await page.keyboard.type("text/plain");
    await page.keyboard.press("Enter");
    const added = headerRows.nth(1);
    await expect
      .poll(() => added.locator(".field-error").textContent())
      .toBe("content-type is set by Signalpost and cannot be overridden");
    await added.getByLabel("Header name").fill("x-tenant");
    await added.getByLabel("Value").fill("acme");
    await form.getByLabel(/^Timeout/).fill("500");
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => errorFor(form, "timeoutMs")).toBe("timeoutMs must be between 1000 and 30000");
    expect(await added.locator(".field-error").textContent()).toBe("");
    await form.getByLabel(/^Timeout/).fill("5000");

    // Its own retry schedule: an out-of-range delay is refused under the delays.
    await form.getByLabel("Use the instance's default retry schedule").uncheck();
    await form.getByLabel(/^Retry delays/).fill("5, 99999999");
    await form.getByLabel(/^Attempts in all/).fill("3");
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => errorFor(form, "delaysSeconds")).toMatch(/^each delay is whole seconds from 0 to/);
    await form.getByLabel(/^Retry delays/).fill("5, 60");

    // Switching TLS verification off shows the warning at once, and on the endpoint once saved.
    const warning = form.getByTestId("tls-warning");
    expect(await warning.isHidden()).toBe(true);
    await form.getByLabel("Verify the receiver's TLS certificate").uncheck();
    expect(await warning.isVisible()).toBe(true);
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(status).toBe("orders-receiver saved");
    await expect
      .poll(() => row.getByTestId("warning").textContent())
      .toContain("TLS certificate verification is disabled");

    const { endpoint } = await panel.api<{ endpoint: Record<string, unknown> }>(
      `query ($id: ID!) { endpoint(id: $id) { ... on Endpoint { headers timeoutMs verifyTls
        retryPolicy { delaysSeconds maxAttempts isDefault } } } }`,
      { id: endpointId },
    );
    expect(endpoint).toEqual({
      headers: { "x-api-key": "••••••••", "x-tenant": "••••••••" },
      timeoutMs: 5000,
      verifyTls: false,
      retryPolicy: { delaysSeconds: [5, 60], maxAttempts: 3, isDefault: false },
    });

    // Send test to all: every enabled endpoint's own answer (flaky's receiver is gone by now).
    const before = receiver.requests.length;
    await page.getByRole("button", { name: "Send test to all" }).click();
    const results = page.getByTestId("test-all-results");
    await expect
      .poll(() => results.locator('[data-endpoint="orders-receiver"]').textContent())
      .toMatch(/^orders-receiver: 200 in \d+ ms$/);
    expect(await results.locator('[data-endpoint="flaky"]').textContent()).toMatch(/^flaky: no answer \(/);
    // The stored header value was kept through the edit (sent back masked); the new one is sent too.
    const [test] = (await receiver.waitForRequests(before + 1)).slice(before);
    expect(test?.headers).toMatchObject({ "x-api-key": "panel-secret-value", "x-tenant": "acme" });
    expect(panel.pageErrors).toEqual([]);
  });

  it("generates an API key with scopes picked and an expiry, refusing bad input next to the field", async () => {
    await open("API keys");
    const form = page.getByRole("form", { name: "Generate an API key" });
    await form.getByLabel("Name").fill("expiring key");
    await form.getByRole("button", { name: "Generate key" }).click();
    await expect.poll(() => errorFor(form, "scopes")).toBe("a key needs at least one scope");
    await form.getByLabel("deliveries:read").check();
    await form.getByLabel("events:publish").check();
    await form.getByLabel(/^Expires/).fill(await local(-60));
    await form.getByLabel(/^Expires/).press("Enter");
    await expect.poll(() => errorFor(form, "expiresAt")).toBe("expiresAt must be in the future");
    expect(await errorFor(form, "scopes")).toBe("");
    const expiry = await local(30 * 24 * 60);
    await form.getByLabel(/^Expires/).fill(expiry);
    await form.getByRole("button", { name: "Generate key" }).click();
    expect(await page.getByTestId("secret-value").textContent()).toMatch(/^sp_/);
    await page.getByRole("button", { name: "Done" }).click();
    const row = page.locator('tr[data-key="expiring key"]');
    await expect.poll(() => row.getByTestId("expires").textContent()).not.toBe("never");
    expect(await row.textContent()).toContain("deliveries:read, events:publish");
    const { apiKeys } = await panel.api<{ apiKeys: { edges: { node: { name: string; expiresAt: string } }[] } }>(
      "{ apiKeys(first: 20) { edges { node { name expiresAt } } } }",
    );
    const saved = apiKeys.edges.find(({ node }) => node.name === "expiring key")?.node;
    const chosen = await page.evaluate((value) => new Date(value).toISOString(), expiry);
    expect(saved?.expiresAt).toBe(chosen);
    expect(panel.pageErrors).toEqual([]);
  });

  it("links the docs: GraphiQL and the README by section", async () => {
    await open("Docs");
    expect(await page.getByRole("link", { name: "GraphiQL" }).getAttribute("href")).toBe("/graphql");
    const graphiql = await fetch(`${panel.baseUrl}/graphql`, { headers: { accept: "text/html" } });
    expect(await graphiql.text()).toMatch(/graphiql/i);
    for (const title of ["Outbound webhooks", "Inbound webhooks for agents", "Limits", "Web developer panel"])
      expect(await page.getByRole("link", { name: title }).count(), title).toBe(1);
    await page.getByRole("link", { name: "Limits", exact: true }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Limits", exact: true }).waitFor();
    const readme = await readFile(path.resolve("README.md"), "utf8");
    const limits = readme.slice(readme.indexOf("## Limits\n") + "## Limits\n".length);
    // A section runs to the next `##` or `###` heading (Limits has subsections).
    expect(await page.getByTestId("section").textContent()).toBe(limits.slice(0, limits.search(/\n###? /)).trim());
    await page.getByRole("link", { name: "← Docs" }).click();
    await page.getByRole("heading", { name: "Docs", exact: true }).waitFor();
    expect(panel.pageErrors).toEqual([]);
  });
});
