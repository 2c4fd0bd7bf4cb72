import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../clients/typescript/src/index.js";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { seed } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

// One real server on this file's database; every CLI call is a separate process, as a user runs it.
const server = runSignalpost(["serve", "--role", "all"], {
  DATABASE_URL: process.env.DATABASE_URL,
  PORT: "0",
  HOST: "127.0.0.1",
  SIGNALPOST_ALLOW_INSECURE_URLS: "true",
});
let serverUrl: string;
const running: SignalpostProcess[] = [];
beforeAll(async () => {
  serverUrl = `http://127.0.0.1:${await servingPort(server)}`;
});
afterAll(async () => {
  for (const child of running) child.child.kill("SIGINT");
  await Promise.all(running.map((child) => child.exited));
  server.child.kill("SIGTERM");
  await server.exited;
});

async function onServer<T>(token: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${serverUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data as T;
}

/** Runs a CLI command to its end, the server given as its GraphQL address (with /graphql) as users paste it. */
async function cli(args: string[], token: string) {
  const child = runSignalpost([...args, "--url", `${serverUrl}/graphql`], { SIGNALPOST_API_KEY: token });
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** Starts a long-running CLI command (tail, listen) and waits for its ready line on stderr. */
async function start(args: string[], token: string, ready: string) {
  const child = runSignalpost([...args, "--url", serverUrl], { SIGNALPOST_API_KEY: token });
  running.push(child);
  await until(
    async () => child.stderr(),
    (text) => text.includes(ready) || child.child.exitCode !== null,
    `${args[0]} ready`,
  );
  expect(child.stderr()).toContain(ready);
  return child;
}

const ORDER_SCHEMA = {
  type: "object",
  required: ["orderId", "status", "total", "email", "placedAt", "items"],
  properties: {
    orderId: { type: "string", minLength: 12 },
    status: { enum: ["placed", "paid"] },
    total: { type: "integer", minimum: 100, multipleOf: 25 },
    email: { type: "string", format: "email" },
    placedAt: { type: "string", format: "date-time" },
    items: {
      type: "array",
      minItems: 1,
      items: { type: "object", required: ["sku"], properties: { sku: { type: "string" } } },
    },
    coupon: { type: ["string", "null"], maxLength: 3 },
  },
  additionalProperties: false,
};

describe("signalpost everyday commands", () => {
  it("creates an event type and an endpoint, triggers a schema-valid example, and finds the delivery by endpoint name", async () => {
    const { token } = await seed.tenantWithKey();
    const receiver = await TestReceiver.start();
    try {
      // The type first: an endpoint filter must name one of the tenant's event types.
      const type = await cli(
        ["event-types", "create", "order.created", "--schema", JSON.stringify(ORDER_SCHEMA)],
        token,
      );
      expect(type.code, type.stderr).toBe(0);
      const created = await cli(["endpoints", "create", "shop", receiver.url, "--events", "order.created"], token);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toMatch(/Created endpoint .* "shop" .*\n\n {2}whsec_/);

      const triggered = await cli(["trigger", "order.created", "--json"], token);
      expect(triggered.code, triggered.stderr).toBe(0);
      const { payload, deliveryCount } = JSON.parse(triggered.stdout) as { payload: unknown; deliveryCount: number };
      expect(deliveryCount).toBe(1);
      const ajv = new Ajv2020({ strict: false });
      addFormats.default(ajv);
      const validate = ajv.compile(ORDER_SCHEMA);
      expect(validate(payload), JSON.stringify(validate.errors)).toBe(true);
      await receiver.waitForRequests(1);
      expect(JSON.parse(receiver.requests[0]?.body.toString() ?? "{}").data).toEqual(payload);

      // Names where ids are asked: --endpoint shop.
      const listed = await until(
        async () => cli(["deliveries", "list", "--endpoint", "shop", "--json"], token),
        (result) => result.stdout.includes('"SUCCEEDED"'),
        "the delivery, found by endpoint name",
      );
      const delivery = JSON.parse(listed.stdout.trim().split("\n")[0] as string) as { id: string };
      const shown = await cli(["deliveries", "show", delivery.id], token);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain(`Delivery ${delivery.id}  SUCCEEDED`);
      expect(shown.stdout).toMatch(/#1 .* 200 {2}\d+ ms/);

      const tested = await cli(["endpoints", "test", "shop"], token);
      expect(tested.code, tested.stderr).toBe(0);
      expect(tested.stdout).toMatch(/Test event to shop: 200 in \d+ ms/);

      const missing = await cli(["deliveries", "list", "--endpoint", "shpo"], token);
      expect(missing.code).toBe(1);
      expect(missing.stderr.trim()).toBe('signalpost: no endpoint with id or name "shpo"; endpoints: shop');
    } finally {
      await receiver.close();
    }
  }, 120_000);

  it("tails the console live, and revokes a key by name", async () => {
    const { token } = await seed.tenantWithKey();
    // --last 1 first shows the latest line (the key's creation or use): once it is there the subscription is live on the server (the
    // "Tailing" note comes at connection time, a moment before the server has subscribed).
    const tail = await start(["tail", "--last", "1"], token, "Tailing the console");
    await until(
      async () => tail.stdout(),
      (text) => text.includes("API_KEY_"),
      "the last console line",
    );
    // Through the server, as a teammate would: its console feed announces the new key.
    await onServer(
      token,
      `mutation { createApiKey(input: { name: "ci-deploy", scopes: [ENDPOINTS_READ] }) { __typename } }`,
    );
    await until(
      async () => tail.stdout(),
      (text) => /API_KEY_CREATED\s+API key "?ci-deploy"? created/.test(text),
      "the live console line",
    );
    const revoked = await cli(["keys", "revoke", "ci-deploy"], token);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/Revoked API key .* "ci-deploy"/);
    await until(
      async () => tail.stdout(),
      (text) => text.includes("API_KEY_REVOKED"),
      "the revocation on the console",
    );
  }, 60_000);
});

describe("signalpost listen", () => {
  it("--forward-to re-posts published events signed with the printed session secret, only the types asked for", async () => {
    const { token } = await seed.tenantWithKey();
    await onServer(
      token,
      `mutation { a: createEventType(input: { name: "order.created" }) { __typename }
      b: createEventType(input: { name: "order.refunded" }) { __typename } }`,
    );
    const local = await TestReceiver.start();
    try {
      const listener = await start(["listen", "--forward-to", local.url, "--events", "order.created"], token, "Ready");
      const secret = /Signing secret for this session: (whsec_\S+)/.exec(listener.stdout())?.[1];
      expect(secret).toBeDefined();
      const publish = (type: string, n: number) =>
        onServer<{ publishEvent: { event: { messageId: string } } }>(
          token,
          `mutation ($type: String!, $n: Int!) { publishEvent(input: { eventType: $type, payload: { n: $n } }) {
            ... on PublishedEvent { event { messageId } } } }`,
          { type, n },
        );
      // "Ready" is printed when the connection is up, a moment before the server has subscribed: publish until one
      // arrives, each time a type that was not asked for first.
      const sent: string[] = [];
      let n = 0;
      await until(
        async () => {
          n += 1;
          await publish("order.refunded", n);
          sent.push((await publish("order.created", n)).publishEvent.event.messageId);
          return local.requests.length;
        },
        (count) => count > 0,
        "a forwarded event",
      );
      const request = local.requests[0];
      const verified = verifyWebhook<{ type: string; data: { n: number } }>(
        request?.body.toString() ?? "",
        request?.headers as Record<string, string>,
        secret as string,
      );
      expect(sent).toContain(verified.id);
      expect(verified.payload).toMatchObject({ type: "order.created" });
      await until(
        async () => listener.stdout(),
        (text) => /order\.created .* -> 200/.test(text),
        "the forwarded line",
      );
      const types = local.requests.map((received) => JSON.parse(received.body.toString()).type);
      expect(
        types.every((type) => type === "order.created"),
        types.join(","),
      ).toBe(true);
    } finally {
      await local.close();
    }
  }, 60_000);

  it("--agent says so when the agent has no relay action", async () => {
    const { token } = await seed.tenantWithKey();
    await onServer(
      token,
      `mutation { createAgent(input: { name: "github", status: ACTIVE, actions: [] }) { __typename } }`,
    );
    const result = await cli(["listen", "--agent", "github", "--forward-to", "http://127.0.0.1:9/hook"], token);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(
      /^signalpost: agent "github" has no relay action, so listen would receive nothing/,
    );
  }, 60_000);
});
