import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDatabase, dropDatabase, type TestDatabase } from "../support/databases.js";
import { COMPILED_ENTRY, runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { seed } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const databases: TestDatabase[] = [];
const running: SignalpostProcess[] = [];
afterAll(async () => {
  for (const process of running) process.child.kill("SIGKILL");
  await Promise.all(databases.map((database) => dropDatabase(database.name)));
});

async function database(options: { migrated: boolean }): Promise<TestDatabase> {
  const created = await createDatabase(options.migrated ? { template: inject("templateDatabase") } : {});
  databases.push(created);
  return created;
}

function start(args: string[], env: Record<string, string | undefined>, entry?: string): SignalpostProcess {
  const process = runSignalpost(args, env, entry);
  running.push(process);
  return process;
}

/**
 * Sends SIGTERM and waits for the exit. `stopped` says the graceful shutdown finished (the process logs it just
 * before exiting 0), within its own deadline (SIGNALPOST_SHUTDOWN_TIMEOUT_MS): no wall clock needed here.
 */
async function stopWithSigterm(process: SignalpostProcess): Promise<{ code: number | null; stopped: boolean }> {
  process.child.kill("SIGTERM");
  const code = await process.exited;
  return { code, stopped: process.logs().some((line) => line.msg === "stopped") };
}

async function sql<Row extends pg.QueryResultRow>(url: string, text: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text)).rows;
  } finally {
    await client.end();
  }
}

describe("bad start-up input: one line, non-zero exit", () => {
  it.each([
    [{ PORT: "abc" }, "signalpost: invalid configuration: PORT: must be a number"],
    [
      { DATABASE_URL: "mysql://nope" },
      "signalpost: invalid configuration: DATABASE_URL: must be a postgres:// or postgresql:// URL",
    ],
    [{ LOG_LEVEL: "chatty" }, "signalpost: invalid configuration: LOG_LEVEL: must be one of"],
  ])("exits 2 on %j", async (env, message) => {
    const process = start(["serve"], env);
    expect(await process.exited).toBe(2);
    expect(process.stderr()).toContain(message);
    expect(process.stderr().trim().split("\n")).toHaveLength(1);
  });

  it("exits 2 when DATABASE_URL is set without SIGNALPOST_MASTER_KEY", async () => {
    const process = start(["serve"], {
      DATABASE_URL: "postgresql://u:p@127.0.0.1:1/x",
      SIGNALPOST_MASTER_KEY: undefined,
    });
    expect(await process.exited).toBe(2);
    expect(process.stderr().trim()).toBe(
      "signalpost: invalid configuration: SIGNALPOST_MASTER_KEY: is required when DATABASE_URL is set (create one with `signalpost keys master`)",
    );
  });

  it("exits 2 on a malformed SIGNALPOST_MASTER_KEY, without echoing it", async () => {
    const process = start(["serve"], {
      DATABASE_URL: "postgresql://u:p@127.0.0.1:1/x",
      SIGNALPOST_MASTER_KEY: "k1:dG9vc2hvcnQ=",
    });
    expect(await process.exited).toBe(2);
    expect(process.stderr()).toContain('SIGNALPOST_MASTER_KEY: key "k1" must be 32 bytes of base64 (got 8)');
    expect(process.stderr()).not.toContain("dG9vc2hvcnQ");
  });

  it("exits 2 on an unknown role or command", async () => {
    const badRole = start(["serve", "--role", "chef"], {});
    expect(await badRole.exited).toBe(2);
    expect(badRole.stderr()).toContain('--role must be one of all, api, worker (got "chef")');
    const badCommand = start(["frobnicate"], {});
    expect(await badCommand.exited).toBe(2);
    expect(badCommand.stderr()).toContain("unknown command 'frobnicate'");
  });

  it("exits 1 naming DATABASE_URL when the database cannot be reached", async () => {
    const process = start(["serve"], { DATABASE_URL: "postgresql://nobody:secret@127.0.0.1:1/nothing", PORT: "0" });
    expect(await process.exited).toBe(1);
    expect(process.stderr()).toMatch(/^signalpost: cannot reach the database at 127\.0\.0\.1:1 \(DATABASE_URL\)/);
    expect(process.stderr()).not.toContain("secret");
  });

  it("exits 1 saying the port is taken, and says which", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const target = await database({ migrated: true });
      const process = start(["serve"], { DATABASE_URL: target.url, PORT: String(port), HOST: "127.0.0.1" });
      expect(await process.exited).toBe(1);
      expect(process.stderr().trim()).toBe(
        `signalpost: port ${port} is already in use: stop the other process or set PORT to a free port`,
      );
    } finally {
      blocker.close();
    }
  });

  it("exits 1 when an applied migration was edited, and applies nothing", async () => {
    const target = await database({ migrated: true });
    await sql(target.url, `UPDATE "_prisma_migrations" SET checksum = 'edited' WHERE migration_name LIKE '%_init'`);
    const process = start(["serve"], { DATABASE_URL: target.url, PORT: "0" });
    expect(await process.exited).toBe(1);
    expect(process.stderr()).toMatch(/^signalpost: Migration \d+_init was edited after it was applied/);
  });
});

describe("serving against DATABASE_URL", () => {
  it("serves, then stops gracefully and exits 0 on SIGTERM", async () => {
    const target = await database({ migrated: false });
    const process = start(["serve"], { DATABASE_URL: target.url, PORT: "0", HOST: "127.0.0.1" });
    const port = await servingPort(process);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      checks: [{ name: "database" }, { name: "migrations" }, { name: "jobQueue", ok: true }],
    });
    const graphql = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(await graphql.json()).toEqual({ data: { __typename: "Query" } });

    const { code, stopped } = await stopWithSigterm(process);
    expect(code).toBe(0);
    expect(stopped).toBe(true);
  });

  it("serves from the compiled build `npm start` runs: migrations, GraphQL, the panel", async () => {
    // The build mirrors src/ in dist/, so files found relative to a module (migrations, the panel) must still be.
    await promisify(execFile)(global.process.execPath, ["src/scripts/build.mjs"], { cwd: ROOT });
    const target = await database({ migrated: false });
    const process = start(["serve"], { DATABASE_URL: target.url, PORT: "0", HOST: "127.0.0.1" }, COMPILED_ENTRY);
    const port = await servingPort(process);
    expect(process.logs().filter((line) => line.msg === "migration applied").length).toBeGreaterThan(0);
    const graphql = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ serverInfo { version } }" }),
    });
    expect(await graphql.json()).toEqual({ data: { serverInfo: { version: expect.any(String) } } });
    const panel = await fetch(`http://127.0.0.1:${port}/console`);
    expect(panel.status).toBe(200);
    expect(await panel.text()).toContain("<html");
    expect((await stopWithSigterm(process)).code).toBe(0);
  });

  it("lets a request in flight finish when SIGTERM arrives, then exits 0", async () => {
    // The server runs on this file's database, so the key seeded here is valid there.
    const receiver = await TestReceiver.start();
    receiver.respondWith({ status: 200, latencyMs: 2_000 });
    const { headers } = await seed.tenantWithKey();
    const server = start(["serve"], {
      DATABASE_URL: process.env.DATABASE_URL,
      PORT: "0",
      HOST: "127.0.0.1",
      SIGNALPOST_ALLOW_INSECURE_URLS: "true",
    });
    const port = await servingPort(server);
    const graphql = (query: string) =>
      fetch(`http://127.0.0.1:${port}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ query }),
      }).then(
        (response) =>
          response.json() as Promise<{ data: Record<string, { endpoint?: { id: string }; statusCode?: number }> }>,
      );
    const created = await graphql(
      `mutation { createEndpoint(input: { name: "slow", url: "${receiver.url}" }) { ... on CreatedEndpoint { endpoint { id } } } }`,
    );
    const endpointId = created.data.createEndpoint?.endpoint?.id;
    const slow = graphql(
      `mutation { sendTestEvent(endpointId: "${endpointId}") { ... on SendResult { statusCode } } }`,
    );
    await receiver.waitForRequests(1);
    const stopped = stopWithSigterm(server);
    expect((await slow).data.sendTestEvent).toEqual({ statusCode: 200 });
    expect((await stopped).code).toBe(0);
    await receiver.close();
  });

  it("brings two instances started at the same moment up, applying migrations once", async () => {
    const target = await database({ migrated: false });
    const first = start(["serve"], { DATABASE_URL: target.url, PORT: "0", HOST: "127.0.0.1" });
    const second = start(["serve"], { DATABASE_URL: target.url, PORT: "0", HOST: "127.0.0.1" });
    const ports = await Promise.all([servingPort(first), servingPort(second)]);
    for (const port of ports) {
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    }
    const rows = await sql<{ migration_name: string }>(target.url, `SELECT migration_name FROM "_prisma_migrations"`);
    expect(new Set(rows.map((row) => row.migration_name)).size).toBe(rows.length);
    const appliedBy = [first, second].map(
      (process) => process.logs().filter((line) => line.msg === "migration applied").length,
    );
    expect(appliedBy.sort()).toEqual([0, rows.length]);
    expect((await Promise.all([stopWithSigterm(first), stopWithSigterm(second)])).map((result) => result.code)).toEqual(
      [0, 0],
    );
  });

  it("runs the worker role without an HTTP listener and the api role without the job queue", async () => {
    const target = await database({ migrated: true });
    const worker = start(["serve", "--role", "worker"], { DATABASE_URL: target.url, PORT: "0" });
    await worker.waitForLog((line) => line.msg === "job queue started");
    const api = start(["serve", "--role", "api"], { DATABASE_URL: target.url, PORT: "0", HOST: "127.0.0.1" });
    const port = await servingPort(api);
    const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { checks: { name: string }[] };
    expect(ready.checks.map((check) => check.name)).toEqual(["database", "migrations"]);
    expect(worker.logs().some((line) => typeof line.graphiql === "string")).toBe(false);
    expect(api.logs().some((line) => line.msg === "job queue started")).toBe(false);
    expect((await Promise.all([stopWithSigterm(worker), stopWithSigterm(api)])).map((result) => result.code)).toEqual([
      0, 0,
    ]);
  });

  it("`signalpost migrate` applies pending migrations and exits", async () => {
    const target = await database({ migrated: false });
    const first = start(["migrate"], { DATABASE_URL: target.url });
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toMatch(/Applied \d+ migration\(s\): \d+_init/);
    const second = start(["migrate"], { DATABASE_URL: target.url });
    expect(await second.exited).toBe(0);
    expect(second.stdout()).toMatch(/Database is up to date \(\d+ migration\(s\) applied\)/);
  });
});

describe("serving on the embedded PostgreSQL", () => {
  it("creates the cluster with a first admin key, shares it with CLI tools, stops it leaving no process, and reuses it", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-data-"));
    await chmod(dataDir, 0o755);
    const env = { SIGNALPOST_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" };
    try {
      const first = start(["serve"], env);
      const port = await servingPort(first);
      // The first start of an empty database prints a one-time admin key, which works at once. Whoever starts a
      // fresh install is its operator, so the key holds instance:admin too.
      const printedKey = /^ {4}(sp_[0-9a-f]{32}_[A-Za-z0-9_-]{43})$/m.exec(first.stdout())?.[1];
      expect(printedKey).toBeDefined();
      expect(first.stdout()).toContain(
        `Open http://localhost:${port}/graphql and add the header  {"Authorization": "Bearer ${printedKey}"}`,
      );
      const viewer = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${printedKey}` },
        body: JSON.stringify({ query: "{ viewer { scopes tenant { slug } } }" }),
      });
      expect(await viewer.json()).toEqual({
        data: { viewer: { scopes: ["ADMIN", "INSTANCE_ADMIN"], tenant: { slug: "default" } } },
      });

      // A second server on the same data directory is refused; CLI tools share the running cluster.
      const rival = start(["serve"], env);
      expect(await rival.exited).toBe(1);
      expect(rival.stderr()).toMatch(
        /^signalpost: the data directory .* is in use by another Signalpost server \(pid \d+\)/,
      );
      const cli = start(
        ["keys", "create", "--tenant", "acme", "--name", "ops", "--scopes", "endpoints:read,keys:read", "--json"],
        env,
      );
      expect(await cli.exited).toBe(0);
      const created = JSON.parse(cli.stdout()) as {
        tenant: string;
        tenantCreated: boolean;
        key: string;
        scopes: string[];
      };
      expect(created).toMatchObject({ tenant: "acme", tenantCreated: true, scopes: ["endpoints:read", "keys:read"] });
      const acme = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": created.key },
        body: JSON.stringify({ query: "{ viewer { tenant { slug } } }" }),
      });
      expect(await acme.json()).toEqual({ data: { viewer: { tenant: { slug: "acme" } } } });

      const postmasterPid = Number((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
      const { code, stopped } = await stopWithSigterm(first);
      expect(code).toBe(0);
      expect(stopped).toBe(true);
      expect(() => process.kill(postmasterPid, 0)).toThrow();
      expect(existsSync(path.join(dataDir, "pg", "postmaster.pid"))).toBe(false);

      const second = start(["serve"], env);
      const secondPort = await servingPort(second);
      expect(second.logs().some((line) => line.msg === "creating the embedded PostgreSQL cluster")).toBe(false);
      expect(second.logs().some((line) => line.msg === "migration applied")).toBe(false);
      expect(second.stdout()).not.toContain("sp_");
      const again = await fetch(`http://127.0.0.1:${secondPort}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${printedKey}` },
        body: JSON.stringify({ query: "{ viewer { tenant { slug } } }" }),
      });
      expect(await again.json()).toEqual({ data: { viewer: { tenant: { slug: "default" } } } });
      expect((await stopWithSigterm(second)).code).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
