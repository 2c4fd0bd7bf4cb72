import { chmod, chown, realpath, stat } from "node:fs/promises";
import path from "node:path";

/** Where a root-run install can keep its data: a system directory the postgres user can reach. */
export const SUGGESTED_ROOT_DATA_DIR = "/var/lib/signalpost";

/** Raised before initdb when the `postgres` user could not reach the cluster inside the data directory. */
export class DataDirUnreachableError extends Error {
  constructor(dataDir: string, blocking: string) {
    super(
      `the data directory ${dataDir} is inside ${blocking}, which the postgres user cannot enter (as root, PostgreSQL ` +
        `runs as postgres): set SIGNALPOST_DATA_DIR to a directory outside it, such as ${SUGGESTED_ROOT_DATA_DIR}`,
    );
    this.name = "DataDirUnreachableError";
  }
}

interface Account {
  uid: number;
  gid: number;
}

/** Whether `account` may pass through a directory with this owner and mode (supplementary groups not counted). */
function traversable(info: { uid: number; gid: number; mode: number }, account: Account): boolean {
  if (info.uid === account.uid) return (info.mode & 0o100) !== 0;
  if (info.gid === account.gid) return (info.mode & 0o010) !== 0;
  return (info.mode & 0o001) !== 0;
}

/**
 * Run as root, PostgreSQL runs as the `postgres` user (see postgresUser), which must pass through the data directory
 * to reach its cluster in `<dataDir>/pg`. A private data directory of ours (`mktemp -d` makes it 0700) is opened to
 * the postgres group for traversal only (0710: it can reach `pg/` but not list or read the master key and password
 * files next to it). A parent directory is not ours to change (/root is 0700): then this stops before initdb, with one
 * line that says what to do instead of initdb's "Permission denied" on a file it cannot reach.
 */
export async function letPostgresReach(dataDir: string, postgres: Account): Promise<void> {
  const resolved = await realpath(dataDir);
  for (let dir = path.dirname(resolved); ; dir = path.dirname(dir)) {
    if (!traversable(await stat(dir), postgres)) throw new DataDirUnreachableError(dataDir, dir);
    if (dir === path.dirname(dir)) break;
  }
  const info = await stat(resolved);
  if (traversable(info, postgres)) return;
  await chown(resolved, info.uid, postgres.gid);
  await chmod(resolved, (info.mode & 0o7777) | 0o010);
}
