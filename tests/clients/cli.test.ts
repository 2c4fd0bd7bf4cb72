import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/lib/webhook-signature.js";
import { execute } from "../support/graphql.js";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { seed, seedEventType } from "../support/seed.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

// One real server (api + worker in one process) on this file's database; the CLI runs as separate processes.
const server = runSignalpost(["serve", "--role", "all"], {
  DATABASE_URL: process.env.DATABASE_URL,
  PORT: "0",
  HOST: "127.0.0.1",
  SIGNALPOST_ALLOW_INSECURE_URLS: "true",
});
let serverUrl: string;
let receiver: TestReceiver;
beforeAll(async () => {
  serverUrl = `http://127.0.0.1:${await servingPort(server)}`;
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  server.child.kill("SIGTERM");
  await server.exited;
  await receiver.close();
});

/** A GraphQL request to the running server (its URL rules allow loopback receivers; this process's do not). */
async function onServer<T>(headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${serverUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data as T;
}

/** Runs a CLI command to its end; the key comes from the environment, as a script would pass it. */
async function cli(args: string[], key: string, url = serverUrl) {
  const child = runSignalpost(args, { SIGNALPOST_URL: url, SIGNALPOST_API_KEY: key });
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

describe("signalpost events / deliveries / endpoints", () => {
  it("publishes an event, lists its delivery, retries it, and recovers failed ones", async () => {
    const { tenant, token, headers } = await seed.tenantWithKey();
    await seedEventType(tenant.id, "order.created");
    const created = await onServer<{ createEndpoint: { endpoint: { id: string } } }>(
      headers,
      `mutation ($url: String!) { createEndpoint(input: { name: "cli", url: $url, retryPolicy: { delaysSeconds: [0], maxAttempts: 1 } }) {
        ... on CreatedEndpoint { endpoint { id } } ... on Error { message } } }`,
      { url: receiver.url },
    );
    const endpointId = created.createEndpoint.endpoint.id;
    receiver.respondWith({ status: 500 });

    const file = path.join(os.tmpdir(), `payload-${randomBytes(4).toString("hex")}.json`);
    await writeFile(file, JSON.stringify({ orderId: 42 }));
    const published = await cli(["events", "publish", "order.created", "--data", `@${file}`, "--json"], token);
    expect(published.code, published.stderr).toBe(0);
    expect(JSON.parse(published.stdout)).toMatchObject({ deliveryCount: 1, duplicate: false });

    await until(
      async () => (await cli(["deliveries", "list", "--status", "failed", "--json"], token)).stdout,
      (stdout) => stdout.includes('"FAILED"'),
      "the failed delivery",
    );
    const listed = await cli(["deliveries", "list", "--json"], token);
    const delivery = JSON.parse(listed.stdout.trim().split("\n")[0] as string) as { id: string; status: string };
    expect(delivery.status).toBe("FAILED");

    receiver.respondWith({ status: 200 });
    const dry = await cli(["endpoints", "recover", "--since", "1h", "--endpoint", endpointId, "--dry-run"], token);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("Would send again 1 failed delivery");

    const retried = await cli(["deliveries", "retry", delivery.id], token);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toMatch(/Attempt 2 of .*: 200 in \d+ ms \(now SUCCEEDED\)/);
    // The same message (webhook-id) went out again.
    expect(receiver.requests.at(-1)?.headers["webhook-id"]).toBe(receiver.requests[0]?.headers["webhook-id"]);

    // The delivery log exported as NDJSON replays to another URL with the exact body that was sent.
    const exported = await onServer<{ exportDeliveries: { data: string } }>(
      headers,
      "{ exportDeliveries(format: NDJSON) { ... on DeliveryExport { data } } }",
    );
    const exportFile = path.join(os.tmpdir(), `export-${randomBytes(4).toString("hex")}.ndjson`);
    await writeFile(exportFile, exported.exportDeliveries.data);
    const elsewhere = await TestReceiver.start();
    const replayed = await cli(["replay", exportFile, "--to", elsewhere.url], token);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(elsewhere.requests[0]?.body.toString()).toBe(receiver.requests[0]?.body.toString());
    await elsewhere.close();
  }, 90_000); // a dozen CLI processes, each a tsx start-up: slow on a loaded machine

  it("says what is wrong, with exit 2 for usage and 1 for refusals", async () => {
    const { token } = await seed.tenantWithKey();
    const noKey = runSignalpost(["deliveries", "list"], { SIGNALPOST_URL: serverUrl });
    expect(await noKey.exited).toBe(2);
    expect(noKey.stderr()).toContain("SIGNALPOST_API_KEY");

    const badJson = await cli(["events", "publish", "order.created", "--data", "{nope"], token);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain("--data is not valid JSON");

    const unknownType = await cli(["events", "publish", "no.such.type", "--data", "{}"], token);
    expect(unknownType.code).toBe(1);
    expect(unknownType.stderr).toMatch(/VALIDATION_FAILED: .*\(eventType\)/);

    const badKey = await cli(["deliveries", "list"], "sp_wrong");
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain("Invalid API key");

    const down = await cli(["deliveries", "list"], token, "http://127.0.0.1:9");
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot reach");
  }, 90_000);
});

describe("signalpost listen", () => {
  let proxy: TcpProxy;
  let listener: SignalpostProcess | undefined;
  beforeAll(async () => {
    proxy = await TcpProxy.start(Number(new URL(serverUrl).port));
  });
  afterAll(async () => {
    listener?.child.kill("SIGINT");
    await listener?.exited;
    await proxy.close();
  });

  it("forwards relayed webhooks with body and headers intact, and catches up after a network loss", async () => {
    const { token, headers } = await seed.tenantWithKey();
    const created = await execute<{ createAgent: { secret: string; agent: { id: string } } }>(
      `mutation { createAgent(input: { name: "relay", status: ACTIVE, actions: [{ type: "relay" }] }) {
        ... on CreatedAgent { secret agent { id } } ... on Error { message field } } }`,
      {},
      headers,
    );
    const { secret, agent } = created.data?.createAgent ?? { secret: "", agent: { id: "" } };
    const local = await TestReceiver.start();
    listener = runSignalpost(["listen", "--agent", agent.id, "--forward", local.url], {
      SIGNALPOST_URL: `http://127.0.0.1:${proxy.port}`,
      SIGNALPOST_API_KEY: token,
    });
    await until(
      async () => listener?.stderr() ?? "",
      (text) => text.includes("Ready"),
      "the listener",
    );

    const send = async (n: number) => {
      const body = `{"n":${n},  "spacing":"kept"}`;
      const signature = signWebhook({
        msgId: `msg_${n}_${randomBytes(4).toString("hex")}`,
        timestamp: new Date(),
        body,
        secrets: [secret],
      });
      const response = await fetch(`${serverUrl}/agents/${agent.id}/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", ...signature },
        body,
      });
      expect(response.status).toBe(202);
      return { body, signature };
    };
    const first = await send(1);
    await local.waitForRequests(1);
    expect(local.requests[0]?.body.toString()).toBe(first.body);
    expect(local.requests[0]?.headers["webhook-signature"]).toBe(first.signature["webhook-signature"]);
    expect(local.requests[0]?.headers["webhook-id"]).toBe(first.signature["webhook-id"]);

    proxy.cutAll();
    await send(2); // relayed while the listener is cut off
    await until(
      async () => listener?.stderr() ?? "",
      (text) => text.includes("Reconnected"),
      "the reconnect",
      30_000,
    );
    await send(3);
    await local.waitForRequests(3);
    // The last one, relayed after the others: a (wrong) repeat of one of them is forwarded before it.
    await send(4);
    await until(
      async () => local.requests.map((request) => JSON.parse(request.body.toString()).n),
      (seen) => seen.includes(4),
      "the last relayed webhook",
    );
    expect(local.requests.map((request) => JSON.parse(request.body.toString()).n)).toEqual([1, 2, 3, 4]);
    // The listener prints a forward's line once the local server has answered it, just after the request arrived.
    const lines = await until(
      async () => (listener as NonNullable<typeof listener>).stdout().trim().split("\n"),
      (printed) => printed.length >= 4,
      "the four forwards printed",
    );
    expect(lines).toHaveLength(4);
    expect(listener.stdout()).toMatch(/POST .* -> 200 \(\d+ ms\)/);

    listener.child.kill("SIGINT");
    expect(await listener.exited).toBe(0);
    listener = undefined;
    await local.close();
  });
});
