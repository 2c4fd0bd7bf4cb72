import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  type ConnectionStatus,
  CreateEndpointDocument,
  consoleEvents,
  createSignalpostClient,
  SignalpostError,
  ViewerDocument,
} from "../../clients/typescript/src/index.js";
import { recordConsoleEvent } from "../../src/modules/console/console-events.js";
import { type RunningApiServer, startLiveApiServer } from "../support/api-server.js";
import { seed } from "../support/seed.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { until } from "../support/wait.js";

let api: RunningApiServer;
let proxy: TcpProxy;
beforeAll(async () => {
  api = await startLiveApiServer();
  proxy = await TcpProxy.start(api.port);
});
afterAll(async () => {
  await proxy.close();
  await api.close();
});

describe("the TypeScript SDK", () => {
  it("runs typed queries and mutations, and returns typed error results as data", async () => {
    const { token, tenant } = await seed.tenantWithKey();
    const client = createSignalpostClient({ url: api.httpUrl, token, webSocketImpl: WebSocket });
    const { viewer } = await client.request(ViewerDocument);
    expect(viewer.tenant.id).toBe(tenant.id);

    const refused = await client.request(CreateEndpointDocument, { input: { name: "x", url: "not a url" } });
    expect(refused.createEndpoint).toMatchObject({ __typename: "ValidationError", field: "url" });
  });

  it("throws SignalpostError with the server's code for a bad token or a missing scope", async () => {
    const bad = createSignalpostClient({ url: api.httpUrl, token: "sp_nope", webSocketImpl: WebSocket });
    await expect(bad.request(ViewerDocument)).rejects.toMatchObject({
      name: "SignalpostError",
      code: "UNAUTHENTICATED",
    });

    const { token } = await seed.tenantWithKey({ scopes: ["endpoints:read"] });
    const narrow = createSignalpostClient({ url: api.httpUrl, token, webSocketImpl: WebSocket });
    const feed = consoleEvents(narrow);
    await expect(feed.next()).rejects.toBeInstanceOf(SignalpostError);
  });

  it("reconnects after the network drops and resumes the console from its last cursor: nothing lost, nothing twice", async () => {
    const { token, tenant } = await seed.tenantWithKey();
    const client = createSignalpostClient({ url: `http://127.0.0.1:${proxy.port}`, token, webSocketImpl: WebSocket });
    const statuses: ConnectionStatus[] = [];
    const controller = new AbortController();
    const received: number[] = [];
    const reading = (async () => {
      const feed = consoleEvents(
        client,
        {},
        {
          signal: controller.signal,
          onStatus: (status) => statuses.push(status),
          retry: { initialDelayMs: 100, maxDelayMs: 500 },
        },
      );
      for await (const event of feed) {
        if (event.kind === "TEST_SENT") received.push((event.data as { n: number }).n);
      }
    })();
    const note = (n: number) => recordConsoleEvent({ tenantId: tenant.id, kind: "TEST_SENT", data: { n } });

    await until(
      async () => statuses,
      (seen) => seen.includes("live"),
      "the first connection",
    );
    await new Promise((resolve) => setTimeout(resolve, 200)); // the subscription reaches the feed
    for (const n of [1, 2, 3]) await note(n);
    await until(
      async () => received.length,
      (count) => count >= 3,
      "the first three",
    );

    proxy.cutAll();
    for (const n of [4, 5, 6]) await note(n); // written while the client is cut off
    await until(
      async () => statuses.filter((s) => s === "live").length,
      (count) => count >= 2,
      "a reconnect",
    );
    for (const n of [7, 8]) await note(n);
    await until(
      async () => received.length,
      (count) => count >= 8,
      "every event",
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // room for a (wrong) repeat

    controller.abort();
    await reading;
    expect(received).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(statuses).toContain("reconnecting");
  });
});
