import pg from "pg";
import { afterAll, afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { main } from "../../src/cli.js";
import { COMMANDS } from "../../src/commands/catalog.js";
import { createDatabase, dropDatabase, type TestDatabase } from "../support/databases.js";
import { runSignalpost } from "../support/process.js";

const version = (await import("../../package.json", { with: { type: "json" } })).default.version as string;

/** Runs `main` in this process (fast: no tsx start-up) and returns what it printed; any exit is a failure here. */
async function inProcess(args: string[]): Promise<string> {
  let out = "";
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const exit = vi.spyOn(process, "exit").mockImplementation((code) => {
    throw new Error(`exited ${code}`);
  });
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await main(args);
  } finally {
    write.mockRestore();
    exit.mockRestore();
    stderr.mockRestore();
  }
  return out;
}

describe("signalpost help", () => {
  const env = { ...process.env };
  afterEach(() => {
    process.env = { ...env };
  });

  it("answers -h and --help on every command and subcommand with its usage, and never runs it", async () => {
    // With no key and no server, a command that ran would fail and exit; help must print and return.
    delete process.env.SIGNALPOST_API_KEY;
    process.env.SIGNALPOST_URL = "http://127.0.0.1:9";
    const invocations: string[][] = [];
    for (const [name, entry] of Object.entries(COMMANDS)) {
      if (name === "help" || name === "version") continue;
      invocations.push([name, "--help"]);
      for (const sub of Object.keys(entry.subcommands ?? {}))
        invocations.push([name, sub, "-h"], [name, sub, "--help"]);
    }
    expect(invocations.length).toBeGreaterThan(25);
    for (const args of invocations) {
      const out = await inProcess(args);
      const shown = args.filter((arg) => !arg.startsWith("-")).join(" ");
      expect(out, args.join(" ")).toContain(`Usage: signalpost ${shown}`);
    }
    expect(await inProcess(["endpoints", "create", "shop", "--help"])).toContain("<name> <url>");
  });

  it("prints help for bare signalpost, the version, and suggests the command meant", async () => {
    // Never left running, even when (as bare `signalpost` once did) it starts a server and the test times out.
    const bare = runSignalpost([], { DATABASE_URL: "postgresql://nobody@127.0.0.1:1/none", PORT: "0" });
    onTestFinished(() => {
      bare.child.kill("SIGKILL");
    });
    expect(await bare.exited).toBe(0);
    expect(bare.stdout()).toContain("Usage: signalpost <command>");
    expect(bare.stdout()).toContain("trigger");
    expect(bare.stdout()).not.toContain('"msg"'); // no server started

    expect((await inProcess(["--version"])).trim()).toBe(version);

    const typo = runSignalpost(["endpont", "list"], {});
    expect(await typo.exited).toBe(2);
    expect(typo.stderr().trim()).toBe("signalpost: unknown command 'endpont'; did you mean 'endpoints'?");
  }, 60_000);
});

describe("help never acts", () => {
  let database: TestDatabase | undefined;
  afterAll(async () => {
    if (database) await dropDatabase(database.name);
  });

  it("migrate --help leaves an empty database empty; keys master --help prints no key; a bad scope lists the valid ones", async () => {
    database = await createDatabase();
    const migrate = runSignalpost(["migrate", "--help"], { DATABASE_URL: database.url });
    const master = runSignalpost(["keys", "master", "--help"], {});
    const badScope = runSignalpost(
      ["keys", "create", "--tenant", "acme", "--name", "ci", "--scopes", "endpoints:read,endpoint:write"],
      { DATABASE_URL: database.url },
    );
    expect(await migrate.exited).toBe(0);
    expect(migrate.stdout()).toContain("Usage: signalpost migrate");
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
      expect(rows[0].n).toBe(0);
    } finally {
      await client.end();
    }

    expect(await master.exited).toBe(0);
    expect(master.stdout()).toContain("Usage: signalpost keys master");
    expect(master.stdout()).not.toMatch(/^mk/m);

    expect(await badScope.exited).toBe(2);
    expect(badScope.stderr()).toContain(
      'unknown scope "endpoint:write"; valid scopes: admin, instance:admin, keys:read',
    );
    expect(badScope.stderr().trim().split("\n")).toHaveLength(1);
  }, 60_000);
});
