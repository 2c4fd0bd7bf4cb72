import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../../src/db/database.js";
import { EmbeddedPostgres, freePort } from "../../src/db/embedded-postgres.js";
import { logger } from "../../src/logger.js";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { endpointForLoad, LoadPublisher, postGraphQL, receivedLoad } from "../support/recovery.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("an external PostgreSQL (DATABASE_URL) stopped and started under load", () => {
  it("answers 503 SERVICE_UNAVAILABLE meanwhile, never INTERNAL, and delivers every acknowledged event after", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-external-"));
    await chmod(dataDir, 0o755);
    const quiet = logger.child({});
    quiet.level = "silent";
    // A second cluster, standing in for a managed server: the same port after its restart, like a real one.
    const cluster = new EmbeddedPostgres({ dataDir, logger: quiet, port: await freePort() });
    await cluster.start();
    await ensureDatabase(cluster.url("postgres"), "signalpost");
    const databaseUrl = cluster.url("signalpost");
    const receiver = await TestReceiver.start();
    const processes: SignalpostProcess[] = [];
    cleanups.push(async () => {
      for (const running of processes) running.child.kill("SIGKILL");
      await Promise.all(processes.map((running) => running.exited));
      await cluster.stop();
      await receiver.close();
      await rm(dataDir, { recursive: true, force: true });
    });
    const server = runSignalpost(["serve"], {
      DATABASE_URL: databaseUrl,
      PORT: "0",
      HOST: "127.0.0.1",
      SIGNALPOST_ALLOW_INSECURE_URLS: "true",
    });
    processes.push(server);
    const port = await servingPort(server);
    const keys = runSignalpost(
      ["keys", "create", "--tenant", "acme", "--name", "load", "--scopes", "admin", "--json"],
      {
        DATABASE_URL: databaseUrl,
      },
    );
    processes.push(keys);
    expect(await keys.exited).toBe(0);
    const headers = { "x-api-key": (JSON.parse(keys.stdout()) as { key: string }).key };
    await endpointForLoad(port, headers, receiver);

    const load = new LoadPublisher(() => port, headers);
    await until(
      async () => load.acknowledged.size,
      (count) => count >= 20,
      "events acknowledged before the stop",
    );
    await cluster.stop();
    await until(
      async () => load.refusals.length,
      (count) => count >= 5,
      "publishes refused during the outage",
    );
    const viewer = await postGraphQL(port, headers, "{ viewer { tenant { slug } } }");
    expect(viewer).toMatchObject({ status: 503, retryAfter: "5" });
    expect(viewer.errors?.[0]?.extensions?.code).toBe("SERVICE_UNAVAILABLE");

    await cluster.start();
    const after = load.acknowledged.size;
    await until(
      async () => load.acknowledged.size,
      (count) => count >= after + 20,
      "events acknowledged after",
      25_000,
    );
    await load.stop();
    // Every refusal during the outage was the typed one, with a Retry-After, never a 500 INTERNAL.
    expect(new Set(load.refusals.map((refusal) => `${refusal.status} ${refusal.code} ${refusal.retryAfter}`))).toEqual(
      new Set(["503 SERVICE_UNAVAILABLE 5"]),
    );
    await until(
      async () => receivedLoad(receiver).numbers,
      (numbers) => [...load.acknowledged].every((n) => numbers.has(n)),
      "every acknowledged event at the receiver",
      20_000,
    );
    for (const ids of receivedLoad(receiver).idsPerNumber.values()) expect(ids.size).toBe(1);
    expect(server.child.exitCode).toBeNull();
  }, 90_000);
});
