import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { endpointForLoad, LoadPublisher, printedAdminKey, receivedLoad } from "../support/recovery.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function readyStatus(port: number): Promise<number> {
  return fetch(`http://127.0.0.1:${port}/readyz`).then(
    (response) => response.status,
    () => 0,
  );
}

describe("the embedded PostgreSQL killed under load", () => {
  it("is restarted on the same port: /readyz goes 503 then 200 and every acknowledged event is delivered", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-recovery-"));
    await chmod(dataDir, 0o755);
    const receiver = await TestReceiver.start();
    let server: SignalpostProcess | undefined;
    cleanups.push(async () => {
      server?.child.kill("SIGKILL");
      await server?.exited;
      // A SIGKILLed server leaves its PostgreSQL running (its own process group): stop it by its pid file.
      const pid = Number(
        (await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0],
      );
      if (pid > 0) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await receiver.close();
      await rm(dataDir, { recursive: true, force: true });
    });
    server = runSignalpost(["serve"], {
      SIGNALPOST_DATA_DIR: dataDir,
      PORT: "0",
      HOST: "127.0.0.1",
      SIGNALPOST_ALLOW_INSECURE_URLS: "true",
    });
    const port = await servingPort(server);
    const headers = { authorization: `Bearer ${printedAdminKey(server.stdout())}` };
    await endpointForLoad(port, headers, receiver);

    const load = new LoadPublisher(() => port, headers);
    await until(
      async () => load.acknowledged.size,
      (count) => count >= 20,
      "events acknowledged before the kill",
    );
    const postmasterPid = Number((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
    process.kill(postmasterPid, "SIGKILL");

    await until(
      () => readyStatus(port),
      (status) => status === 503,
      "/readyz to answer 503 during the restart",
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${server?.stdout().slice(-6000)}\n${server?.stderr().slice(-3000)}`);
    });
    await until(
      () => readyStatus(port),
      (status) => status === 200,
      "/readyz to answer 200 after the restart",
      25_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${server?.stdout().slice(-4000)}\n${server?.stderr().slice(-2000)}`);
    });
    const after = load.acknowledged.size;
    await until(
      async () => load.acknowledged.size,
      (count) => count >= after + 20,
      "events acknowledged after",
    );
    await load.stop();

    await until(
      async () => receivedLoad(receiver).numbers,
      (numbers) => [...load.acknowledged].every((n) => numbers.has(n)),
      "every acknowledged event at the receiver",
      20_000,
    );
    // A duplicate (an attempt whose result could not be recorded) carries the same webhook-id.
    for (const ids of receivedLoad(receiver).idsPerNumber.values()) expect(ids.size).toBe(1);
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(server.logs().some((line) => line.msg === "embedded PostgreSQL restarted")).toBe(true);
  }, 90_000);
});
