import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runSignalpost, servingPort } from "../support/process.js";

/** pino's levels: 40 is WARN, 50 ERROR, 60 FATAL. */
const WARN = 40;

describe("Ctrl-C in a terminal", () => {
  it("stops cleanly: exit 0, no WARN or ERROR line, and the embedded PostgreSQL stopped by us", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-ctrl-c-"));
    await chmod(dataDir, 0o755);
    // The server leads its own process group, as a shell's foreground job does; the terminal's SIGINT goes to the
    // whole group.
    const server = runSignalpost(["serve"], { SIGNALPOST_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" }, undefined, {
      detached: true,
    });
    try {
      const port = await servingPort(server);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const postmasterPid = Number((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
      process.kill(-(server.child.pid as number), "SIGINT");

      expect(await server.exited).toBe(0);
      const noisy = server.logs().filter((line) => (line.level as number) >= WARN);
      expect(noisy).toEqual([]);
      expect(server.stderr()).toBe("");
      expect(server.logs().at(-1)?.msg).toBe("stopped");
      expect(() => process.kill(postmasterPid, 0)).toThrow();
    } finally {
      server.child.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
