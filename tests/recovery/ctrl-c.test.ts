import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runSignalpost, servingPort } from "../support/process.js";
import { until } from "../support/wait.js";

/** A one-shot command that holds the database until signalled (tests/support/shared-database-command.ts). */
const SHARED_DATABASE_COMMAND = fileURLToPath(new URL("../support/shared-database-command.mjs", import.meta.url));

/** pino's levels: 40 is WARN, 50 ERROR, 60 FATAL. */
const WARN = 40;

/** npm's own CLI script, to run `npm start` under this Node as a reader's shell would. */
const NPM_CLI = realpathSync(execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim());

/**
 * Starts `entry args` (or `npm start`) as a terminal's foreground job on a fresh data directory, sends `signal` to
 * its whole process group once it serves, and checks a clean stop: the exit code, no WARN or ERROR line, "stopped"
 * last, and the embedded PostgreSQL stopped by us.
 */
async function stopsCleanly(signal: NodeJS.Signals, npmStart = false): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-ctrl-c-"));
  await chmod(dataDir, 0o755);
  // The server leads its own process group, as a shell's foreground job does; the terminal's signal goes to the
  // whole group (with npm start: npm and the server it runs).
  const env = { SIGNALPOST_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" };
  const server = npmStart
    ? runSignalpost(["start"], env, NPM_CLI, { detached: true })
    : runSignalpost(["serve"], env, undefined, { detached: true });
  try {
    const port = await servingPort(server);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const postmasterPid = Number((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
    process.kill(-(server.child.pid as number), signal);

    expect(await server.exited).toBe(0);
    const noisy = server.logs().filter((line) => (line.level as number) >= WARN);
    expect(noisy).toEqual([]);
    expect(server.logs().at(-1)?.msg).toBe("stopped");
    expect(server.logs().find((line) => line.msg === "shutting down")?.signal).toBe(signal);
    expect(() => process.kill(postmasterPid, 0)).toThrow();
    if (!npmStart) expect(server.stderr()).toBe("");
  } finally {
    try {
      process.kill(-(server.child.pid as number), "SIGKILL");
    } catch {}
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe("Ctrl-C in a terminal", () => {
  it("stops cleanly: exit 0, no WARN or ERROR line, and the embedded PostgreSQL stopped by us", async () => {
    await stopsCleanly("SIGINT");
  }, 60_000);

  it("closing the terminal (SIGHUP) stops just as cleanly", async () => {
    await stopsCleanly("SIGHUP");
  }, 60_000);

  it("under npm start exits 0 too: npm's forwarded copy of the Ctrl-C is the same stop, not a second one", async () => {
    await stopsCleanly("SIGINT", true);
  }, 120_000);

  it("during a one-shot command (migrate, keys create) stops the PostgreSQL that the command started", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "signalpost-ctrl-c-command-"));
    await chmod(dataDir, 0o755);
    // migrate and keys create run their work inside withSharedDatabase; this command's work never ends, so the
    // signal arrives while it holds the database, whatever the machine's speed.
    const command = runSignalpost([], { SIGNALPOST_DATA_DIR: dataDir }, SHARED_DATABASE_COMMAND, { detached: true });
    let postmasterPid = 0;
    try {
      await until(
        async () => command.stdout(),
        (stdout) => stdout.includes("working") || command.child.exitCode !== null,
        "the command to open the database",
        60_000,
      );
      postmasterPid = Number((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
      process.kill(-(command.child.pid as number), "SIGINT");

      expect(await command.exited).toBe(130);
      expect(() => process.kill(postmasterPid, 0)).toThrow();
    } finally {
      command.child.kill("SIGKILL");
      // Without the fix the cluster outlives the command: stop it so that it does not outlive the test too.
      if (postmasterPid) {
        try {
          process.kill(postmasterPid, "SIGKILL");
        } catch {}
      }
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
