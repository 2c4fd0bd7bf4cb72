import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { prisma } from "../../src/db/prisma.js";
import { chooseLogFormat } from "../../src/logger.js";
import { gid, uuidOf } from "../support/ids.js";
import { runSignalpost, type SignalpostProcess } from "../support/process.js";
import type { SeededKey } from "../support/seed.js";
import { type ServedInstance, startServedInstance } from "../support/served-instance.js";
import type { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

let served: ServedInstance;
let server: SignalpostProcess;
let baseUrl: string;
let receiver: TestReceiver;
let admin: SeededKey;

beforeAll(async () => {
  served = await startServedInstance();
  ({ server, baseUrl, receiver, admin } = served);
});
afterAll(async () => {
  await served?.close();
});

async function graphql(query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...admin.headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, Record<string, unknown>>; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data ?? {};
}

/** Lines of the server's stdout that are not JSON objects, and everything it wrote to stderr. */
function strayOutput(): string[] {
  const notJson = server
    .stdout()
    .split("\n")
    .filter((line) => line !== "")
    .filter((line) => {
      try {
        return typeof JSON.parse(line) !== "object";
      } catch {
        return true;
      }
    });
  return [...notJson, ...server.stderr().split("\n").filter(Boolean)];
}

describe("a newcomer's first requests", () => {
  it("`/` sends the browser to the console (302), and the serving line names the console and GraphiQL", async () => {
    for (const method of ["GET", "HEAD"]) {
      const response = await fetch(`${baseUrl}/`, { method, redirect: "manual" });
      expect(response.status).toBe(302);
      expect(response.headers.get("location")).toBe("/console");
    }
    const port = new URL(baseUrl).port;
    const serving = server.logs().find((line) => typeof line.graphiql === "string");
    expect(serving).toMatchObject({
      console: `http://localhost:${port}/console`,
      graphiql: `http://localhost:${port}/graphql`,
    });
    expect(serving?.msg).toContain(`http://localhost:${port}/console`);
    expect((await fetch(`${baseUrl}/console`)).status).toBe(200);
  });

  it("retryDelivery returns its delivery (with a relation) and writes no stray non-JSON line", async () => {
    const created = await graphql(
      `mutation ($url: String!) { createEndpoint(input: { name: "shop", url: $url }) {
        ... on CreatedEndpoint { endpoint { id } } } }`,
      { url: receiver.url },
    );
    const endpointId = (created.createEndpoint as { endpoint: { id: string } }).endpoint.id;
    const published = await graphql(
      `mutation { publishEvent(input: { eventType: "order.created", payload: { n: 1 } }) {
        ... on PublishedEvent { event { id } } } }`,
    );
    const eventId = (published.publishEvent as { event: { id: string } }).event.id;
    const delivery = await until(
      () => prisma.delivery.findFirst({ where: { eventId: uuidOf(eventId) } }),
      (found) => found?.status === "SUCCEEDED",
      "the first delivery",
    );
    const retried = await graphql(
      `mutation ($id: ID!) { retryDelivery(id: $id) { ... on SendResult {
        attemptNumber statusCode delivery { id status endpoint { id } } } } }`,
      { id: gid("Delivery", delivery?.id ?? "") },
    );
    expect(retried.retryDelivery).toEqual({
      attemptNumber: 2,
      statusCode: 200,
      delivery: { id: gid("Delivery", delivery?.id ?? ""), status: "SUCCEEDED", endpoint: { id: endpointId } },
    });
    expect(strayOutput()).toEqual([]);
  });

  it("a WebSocket frame over the limit is closed with 1009 and logged as one JSON line, not a stack on stderr", async () => {
    const socket = new WebSocket(`${baseUrl.replace("http", "ws")}/graphql`, "graphql-transport-ws");
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    socket.send(JSON.stringify({ type: "connection_init", payload: { pad: "x".repeat(100 * 1024) } }));
    expect(await closed).toBe(1009);
    // Whichever comes first: our log line, or a raw line on stderr (graphql-ws's console.error before the fix).
    const logged = () => server.logs().some((line) => line.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH");
    await until(async () => logged() || server.stderr() !== "", Boolean, "the refused frame's log line");
    expect(strayOutput()).toEqual([]);
    expect(logged()).toBe(true);
  });
});

describe("the log format", () => {
  it("is pretty in a terminal, JSON otherwise, and LOG_FORMAT decides when set", () => {
    expect(chooseLogFormat({}, true)).toBe("pretty");
    expect(chooseLogFormat({}, false)).toBe("json");
    expect(chooseLogFormat({}, undefined as unknown as boolean)).toBe("json");
    expect(chooseLogFormat({ LOG_FORMAT: "json" }, true)).toBe("json");
    expect(chooseLogFormat({ LOG_FORMAT: "pretty" }, false)).toBe("pretty");
  });

  it("LOG_FORMAT=pretty writes readable lines, not JSON, naming the console", async () => {
    const pretty = runSignalpost(["serve", "--role", "api"], {
      DATABASE_URL: process.env.DATABASE_URL,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_FORMAT: "pretty",
    });
    try {
      await until(
        async () => pretty.stdout(),
        (out) => out.includes("Signalpost is serving"),
        "the pretty serving line",
      );
      const line = pretty
        .stdout()
        .split("\n")
        .find((text) => text.includes("Signalpost is serving"));
      expect(line).toMatch(
        /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Signalpost is serving: console http:\/\/localhost:\d+\/console/,
      );
    } finally {
      pretty.child.kill("SIGTERM");
      await pretty.exited;
    }
  });
});
