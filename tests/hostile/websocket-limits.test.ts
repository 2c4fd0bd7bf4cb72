import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { MAX_ANONYMOUS_WEBSOCKET_MESSAGE_BYTES, MAX_WEBSOCKET_MESSAGE_BYTES } from "../../src/http/server.js";
import { type RunningApiServer, startApiServer } from "../support/api-server.js";
import { type SeededKey, seed } from "../support/seed.js";

let api: RunningApiServer;
let admin: SeededKey;
beforeAll(async () => {
  api = await startApiServer();
  admin = await seed.tenantWithKey();
});
afterAll(async () => {
  await api.close();
});

/** A raw graphql-transport-ws socket, so the test controls every frame; resolves once open. */
async function open(): Promise<{ socket: WebSocket; closed: Promise<number>; messages: Record<string, unknown>[] }> {
  const socket = new WebSocket(api.wsUrl, "graphql-transport-ws");
  const messages: Record<string, unknown>[] = [];
  socket.on("message", (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  // The server may close while a large frame is still being written: that is the point.
  socket.on("error", () => undefined);
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return { socket, closed, messages };
}

function nextMessage(connection: Awaited<ReturnType<typeof open>>, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = connection.messages.find((message) => message.type === type);
      if (found) {
        connection.socket.off("message", onMessage);
        resolve(found);
      }
    };
    const onMessage = () => setImmediate(check);
    connection.socket.on("message", onMessage);
    connection.closed.then((code) => reject(new Error(`closed (${code}) before a ${type} message`)));
    check();
  });
}

/** A subscribe frame of about `bytes`, padded with whitespace (no tokens) so only its size matters. */
function subscribeOf(bytes: number, id = "1") {
  return JSON.stringify({ id, type: "subscribe", payload: { query: `{ __typename }${" ".repeat(bytes)}` } });
}

describe("WebSocket message limits", () => {
  it("a connection_init over the anonymous limit closes the socket with 1009 (Message Too Big)", async () => {
    const connection = await open();
    const padding = "x".repeat(MAX_ANONYMOUS_WEBSOCKET_MESSAGE_BYTES + 1024);
    connection.socket.send(JSON.stringify({ type: "connection_init", payload: { padding } }));
    expect(await connection.closed).toBe(1009);
  });

  it("without a credential, messages after the ack keep the small limit", async () => {
    const connection = await open();
    connection.socket.send(JSON.stringify({ type: "connection_init" }));
    await nextMessage(connection, "connection_ack");
    connection.socket.send(subscribeOf(MAX_ANONYMOUS_WEBSOCKET_MESSAGE_BYTES + 1024));
    expect(await connection.closed).toBe(1009);
  });

  it("an authenticated connection may send up to the larger limit, and no more", async () => {
    const connection = await open();
    connection.socket.send(
      JSON.stringify({ type: "connection_init", payload: { authorization: admin.headers.authorization } }),
    );
    await nextMessage(connection, "connection_ack");
    connection.socket.send(subscribeOf(200 * 1024));
    expect(await nextMessage(connection, "next")).toMatchObject({
      id: "1",
      payload: { data: { __typename: "Query" } },
    });
    connection.socket.send(subscribeOf(MAX_WEBSOCKET_MESSAGE_BYTES + 1024, "2"));
    expect(await connection.closed).toBe(1009);
  });

  it("a connection that never sends connection_init is closed (4408)", async () => {
    const connection = await open();
    expect(await connection.closed).toBe(4408);
  });

  it("the server goes on answering after all of the above", async () => {
    const response = await fetch(`${api.httpUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ serverInfo { version } }" }),
    });
    expect(response.status).toBe(200);
  });
});
