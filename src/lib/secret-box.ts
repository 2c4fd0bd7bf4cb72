import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from "jose";
import { deriveKey, type Keyring } from "./master-key.js";

const PURPOSE = "secret-box";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encrypts a secret for storage as a compact JWE (direct key agreement, AES-256-GCM) under a key derived from the
 * current master key, whose id goes in `kid` so that rows written before a master-key rotation stay readable.
 */
export async function sealSecret(keyring: Keyring, plaintext: string): Promise<string> {
  const { current } = keyring;
  return new CompactEncrypt(encoder.encode(plaintext))
    .setProtectedHeader({ alg: "dir", enc: "A256GCM", kid: current.id })
    .encrypt(deriveKey(current, PURPOSE));
}

/** Decrypts what `sealSecret` produced. @throws when the master key it names is not configured or the data was altered. */
export async function openSecret(keyring: Keyring, sealed: string): Promise<string> {
  const { kid } = decodeProtectedHeader(sealed);
  const master = kid ? keyring.byId.get(kid) : undefined;
  if (!master) throw new Error(`secret was sealed under master key "${kid}", which is not configured`);
  const { plaintext } = await compactDecrypt(sealed, deriveKey(master, PURPOSE));
  return decoder.decode(plaintext);
}

/** What listings show instead of a secret: its kind prefix and last four characters. */
export function maskSecret(secret: string): string {
  const prefix = secret.startsWith("whsec_") ? "whsec_" : "";
  return `${prefix}${"•".repeat(8)}${secret.slice(-4)}`;
}
