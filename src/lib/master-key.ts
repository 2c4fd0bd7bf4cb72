import { hkdfSync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "../config.js";

/** One master key: 32 random bytes with a short id, recorded next to everything encrypted or signed under it. */
export interface MasterKey {
  id: string;
  key: Buffer;
}

/** The keys this process knows: `current` encrypts and signs; every key (current included) can decrypt and verify. */
export interface Keyring {
  current: MasterKey;
  byId: ReadonlyMap<string, MasterKey>;
}

const VARIABLE = "SIGNALPOST_MASTER_KEY";
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Parses `id:base64key[,id:base64key...]`. The first key is the current one; the others stay readable so that a
 * rotation (prepend a new key, keep the old) never strands data encrypted under the old one.
 * @throws ConfigError naming SIGNALPOST_MASTER_KEY and what is wrong with which entry.
 */
export function parseMasterKeys(value: string): Keyring {
  const keys = value
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, index) => {
      const separator = entry.indexOf(":");
      if (separator < 0) throw new ConfigError(VARIABLE, `entry ${index + 1} must look like <id>:<base64 of 32 bytes>`);
      const id = entry.slice(0, separator);
      const key = Buffer.from(entry.slice(separator + 1), "base64");
      if (!KEY_ID.test(id))
        throw new ConfigError(VARIABLE, `entry ${index + 1} has an id that is not 1-32 of A-Z a-z 0-9 _ -`);
      if (key.length !== 32)
        throw new ConfigError(VARIABLE, `key "${id}" must be 32 bytes of base64 (got ${key.length})`);
      return { id, key };
    });
  const [current] = keys;
  if (!current) throw new ConfigError(VARIABLE, "is empty");
  const byId = new Map<string, MasterKey>();
  for (const key of keys) {
    if (byId.has(key.id)) throw new ConfigError(VARIABLE, `key id "${key.id}" appears twice`);
    byId.set(key.id, key);
  }
  return { current, byId };
}

/** A new master key in the SIGNALPOST_MASTER_KEY format. */
export function generateMasterKey(): string {
  return `mk${randomBytes(4).toString("hex")}:${randomBytes(32).toString("base64")}`;
}

/** Where the embedded database's generated master key is kept: `<dataDir>/master-key`. */
export function masterKeyFile(dataDir: string): string {
  return path.join(dataDir, "master-key");
}

/**
 * The keyring for this process: SIGNALPOST_MASTER_KEY when set; otherwise, with the embedded database only, a key
 * generated once into `<dataDir>/master-key` (mode 0600). A shared database without a configured key is refused: each
 * instance would invent its own and could not read what the others wrote.
 */
export async function resolveKeyring(options: {
  masterKey: string | undefined;
  databaseUrl: string | undefined;
  dataDir: string;
}): Promise<Keyring> {
  if (options.masterKey) return parseMasterKeys(options.masterKey);
  if (options.databaseUrl) {
    throw new ConfigError(VARIABLE, "is required when DATABASE_URL is set (create one with `signalpost keys master`)");
  }
  const file = masterKeyFile(options.dataDir);
  if (existsSync(file)) return parseMasterKeys(await readFile(file, "utf8"));
  await mkdir(options.dataDir, { recursive: true });
  const value = generateMasterKey();
  await writeFile(file, `${value}\n`, { mode: 0o600, flag: "wx" }).catch(async (error: NodeJS.ErrnoException) => {
    // Another process created it first: use theirs.
    if (error.code !== "EEXIST") throw error;
  });
  return parseMasterKeys(await readFile(file, "utf8"));
}

/**
 * A key for one purpose (session signing, secret encryption...) derived from a master key with HKDF, so that no two
 * uses share key material and the master key itself never touches a cipher.
 */
export function deriveKey(master: MasterKey, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", master.key, Buffer.alloc(0), `signalpost:${purpose}`, 32));
}
