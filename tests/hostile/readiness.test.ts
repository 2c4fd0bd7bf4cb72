import { afterAll, describe, expect, inject, it } from "vitest";
import { type RunningApiServer, startApiServer } from "../support/api-server.js";
import { createDatabase, dropDatabase, type TestDatabase } from "../support/databases.js";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { until } from "../support/wait.js";

// /readyz answers anyone: check names and short codes only, never a driver's error text (hosts, users, databases).

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe("/readyz", () => {
  it("answers name, ok and code of each check, and nothing of its detail", async () => {
    const detail = 'password authentication failed for user "signalpost" (10.0.4.7:5432, database "prod_main")';
    const api: RunningApiServer = await startApiServer(async () => [
      { name: "database", ok: false, code: "UNREACHABLE", detail },
      { name: "jobQueue", ok: true },
    ]);
    cleanups.push(() => api.close());
    const response = await fetch(`${api.httpUrl}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: "not_ready",
      checks: [
        { name: "database", ok: false, code: "UNREACHABLE" },
        { name: "jobQueue", ok: true },
      ],
    });
  });

  it("a running server that loses its database answers UNREACHABLE and logs the reason instead", async () => {
    const database: TestDatabase = await createDatabase({ template: inject("templateDatabase") });
    cleanups.push(() => dropDatabase(database.name));
    const url = new URL(database.url);
    const proxy = await TcpProxy.start(Number(url.port));
    cleanups.push(() => proxy.close());
    // Through the proxy over TCP (the test server's URL may name its Unix socket instead).
    url.searchParams.delete("host");
    url.hostname = "127.0.0.1";
    url.port = String(proxy.port);
    const server: SignalpostProcess = runSignalpost(["serve", "--role", "api"], {
      DATABASE_URL: url.toString(),
      PORT: "0",
      HOST: "127.0.0.1",
    });
    cleanups.push(async () => {
      server.child.kill("SIGKILL");
      await server.exited;
    });
    const port = await servingPort(server);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await ready.json()).toEqual({
      status: "ready",
      checks: [
        { name: "database", ok: true },
        { name: "migrations", ok: true },
      ],
    });

    await proxy.close();
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    const text = await response.text();
    expect(response.status).toBe(503);
    expect(JSON.parse(text)).toEqual({
      status: "not_ready",
      checks: [{ name: "database", ok: false, code: "UNREACHABLE" }],
    });
    expect(text).not.toContain(String(proxy.port));
    // The operator still learns why, from the log.
    const logged = await until(
      async () => server.logs().find((line) => line.msg === "readiness check failed" && line.check === "database"),
      (line) => line !== undefined,
      "the failed check in the log",
    );
    expect(logged).toMatchObject({ code: "UNREACHABLE" });
    expect(String(logged?.detail ?? "")).not.toBe("");
  });
});
