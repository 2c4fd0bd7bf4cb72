import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { runSignalpost, servingPort } from "../support/process.js";

const execFileAsync = promisify(execFile);
const asRoot = process.getuid?.() === 0;
const made: string[] = [];

afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

/** A private directory, as `mktemp -d` makes it (mode 0700, owned by root here). */
async function privateDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "signalpost-root-"));
  made.push(dir);
  expect((await stat(dir)).mode & 0o777).toBe(0o700);
  return dir;
}

// PostgreSQL refuses to run as root, so only root has this problem; the tests run as root on our machines.
describe.skipIf(!asRoot)("as root, the embedded PostgreSQL runs as postgres", () => {
  it("serves from a 0700 data directory made by mktemp -d, opening it to the postgres group for traversal only", async () => {
    const dataDir = await privateDir();
    const server = runSignalpost(["serve"], { SIGNALPOST_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" });
    try {
      const port = await servingPort(server);
      expect(server.stdout()).toContain(`Open the console at http://localhost:${port}/console`);
      const { stdout: postgresGid } = await execFileAsync("id", ["-g", "postgres"]);
      const info = await stat(dataDir);
      expect(info.mode & 0o777).toBe(0o710);
      expect(info.uid).toBe(0);
      expect(info.gid).toBe(Number(postgresGid.trim()));
    } finally {
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    }
  });

  it("stops at once, in one line naming SIGNALPOST_DATA_DIR and a place that works, when a parent is closed to postgres", async () => {
    // Like the default ./.signalpost of a clone under /root (mode 0700).
    const home = await privateDir();
    const dataDir = path.join(home, "clone", ".signalpost");
    await mkdir(path.dirname(dataDir));
    const server = runSignalpost(["serve"], { SIGNALPOST_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" });
    expect(await server.exited).toBe(1);
    expect(server.stderr()).toBe(
      `signalpost: the data directory ${dataDir} is inside ${home}, which the postgres user cannot enter (as root, ` +
        "PostgreSQL runs as postgres): set SIGNALPOST_DATA_DIR to a directory outside it, such as /var/lib/signalpost\n",
    );
    // Nothing was created for a cluster that could not start.
    await expect(stat(path.join(dataDir, "pg"))).rejects.toThrow(/ENOENT/);
  });
});
