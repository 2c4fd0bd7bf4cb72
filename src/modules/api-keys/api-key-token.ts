import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * API keys read `sp_<record id, 32 hex>_<secret, 43 base64url chars>`: recognisable in logs and by secret scanners,
 * looked up by primary key, and verified against a stored SHA-256 of the secret (a 256-bit random secret needs no
 * slow hash).
 */
const TOKEN = /^sp_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export interface ApiKeyToken {
  id: string;
  secret: string;
}

export function newApiKeySecret(): string {
  return randomBytes(32).toString("base64url");
}

export function formatApiKey(id: string, secret: string): string {
  return `sp_${id.replace(/-/g, "")}_${secret}`;
}

/** Splits a presented key into record id and secret; null when it is not shaped like one of ours. */
export function parseApiKey(token: string): ApiKeyToken | null {
  const match = TOKEN.exec(token);
  if (!match?.[1] || !match[2]) return null;
  const hex = match[1];
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { id, secret: match[2] };
}

export function hashApiKeySecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashApiKeySecret(secret), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** What listings show instead of the key: the prefix with the id's start, and the last four characters. */
export function displayPrefix(id: string): string {
  return `sp_${id.replace(/-/g, "").slice(0, 8)}`;
}
