import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ConnectionStatus,
  CreateEndpointDocument,
  consoleEvents,
  createSignalpostClient,
  NodeDocument,
  NodesDocument,
  SignalpostError,
  ViewerDocument,
} from "@signalpost/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { recordConsoleEvent } from "../../src/modules/console/console-events.js";
import type { ConsoleFeed } from "../../src/modules/console/console-feed.js";
import { type RunningApiServer, startLiveApiServer } from "../support/api-server.js";
import { gid } from "../support/ids.js";
import { seed } from "../support/seed.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { until } from "../support/wait.js";

let api: RunningApiServer;
/** The API server's console feed. */
const serverFeed = () => api.consoleFeed as ConsoleFeed;
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
    expect(viewer.tenant.id).toBe(gid("Tenant", tenant.id));

    const refused = await client.request(CreateEndpointDocument, { input: { name: "x", url: "not a url" } });
    expect(refused.createEndpoint).toMatchObject({ __typename: "ValidationError", field: "url" });
  });

  it("refetches any object by the id the API gave it (Node, Nodes): another tenant's is null", async () => {
    const { token } = await seed.tenantWithKey();
    const client = createSignalpostClient({ url: api.httpUrl, token, webSocketImpl: WebSocket });
    const created = await client.request(CreateEndpointDocument, {
      input: { name: "orders", url: "https://orders.example.com/in" },
    });
    if (created.createEndpoint.__typename !== "CreatedEndpoint") throw new Error("endpoint not created");
    const { id } = created.createEndpoint.endpoint;
    const { node } = await client.request(NodeDocument, { id });
    expect(node).toMatchObject({ __typename: "Endpoint", id, name: "orders", url: "https://orders.example.com/in" });

    const stranger = await seed.tenantWithKey();
    const theirs = createSignalpostClient({ url: api.httpUrl, token: stranger.token, webSocketImpl: WebSocket });
    expect((await theirs.request(NodeDocument, { id })).node).toBeNull();
    const { viewer } = await theirs.request(ViewerDocument);
    const { nodes } = await theirs.request(NodesDocument, { ids: [id, viewer.tenant.id] });
    expect(nodes.map((found) => found?.__typename ?? null)).toEqual([null, "Tenant"]);
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
    await until(
      async () => serverFeed().subscriberCount,
      (n) => n >= 1,
      "the subscription to join the feed",
    );
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
    // 9 is the last: a (wrong) repeat of an earlier one arrives before it.
    for (const n of [7, 8, 9]) await note(n);
    await until(
      async () => received,
      (seen) => seen.includes(9),
      "every event",
    );

    controller.abort();
    await reading;
    expect(received).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(statuses).toContain("reconnecting");
  });
});

describe("the SDK as a package", () => {
  it("declares every package its sources import, and is a workspace of the root package", () => {
    const packageDir = fileURLToPath(new URL("../../clients/typescript/", import.meta.url));
    const manifest = JSON.parse(readFileSync(path.join(packageDir, "package.json"), "utf8")) as {
      name: string;
      type: string;
      dependencies: Record<string, string>;
    };
    expect(manifest).toMatchObject({ name: "@signalpost/client", type: "module" });
    const sources = ["src", "generated"].flatMap((folder) =>
      readdirSync(path.join(packageDir, folder)).map((file) => path.join(packageDir, folder, file)),
    );
    const imported = new Set(
      sources.flatMap((file) =>
        [...readFileSync(file, "utf8").matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+["']([^."'][^"']*)["']/gm)]
          .map((match) => match[1] as string)
          .filter((specifier) => !specifier.startsWith("node:"))
          .map((specifier) =>
            specifier
              .split("/")
              .slice(0, specifier.startsWith("@") ? 2 : 1)
              .join("/"),
          ),
      ),
    );
    expect(imported.size).toBeGreaterThan(0);
    expect([...imported].filter((name) => !manifest.dependencies[name])).toEqual([]);
    const root = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      workspaces?: string[];
    };
    expect(root.workspaces).toContain("clients/typescript");
  });
});
