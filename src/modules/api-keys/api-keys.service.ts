import { prisma } from "../../db/prisma.js";
import type { ApiKey, Prisma } from "../../generated/prisma/client.js";
import { ForbiddenError, findOrNotFound, ValidationError } from "../../lib/errors.js";
import { recordAudit } from "../audit/audit.service.js";
import { recordConsoleEvent, wakeConsole } from "../console/console-events.js";
import { grantableThroughApi, grants, isScope, type Scope } from "../identity/scopes.js";
import type { RequestOrigin } from "../identity/viewer.js";
import type { ApiKeyRows } from "./api-key-rows.js";
import { formatApiKey, hashApiKeySecret, newApiKeySecret, parseApiKey, secretMatches } from "./api-key-token.js";
import { announceApiKeyUse, findApiKeyRow, markApiKeyUsed } from "./api-keys.store.js";

export interface CreateApiKeyInput {
  name: string;
  scopes: readonly string[];
  expiresAt?: Date | null;
}

const MAX_NAME_LENGTH = 100;
const MAX_LIFETIME_MS = 5 * 365 * 24 * 3600 * 1000;
/** lastUsedAt is refreshed at most this often per key, so that authentication does not write on every request. */
const LAST_USED_PRECISION_MS = 60_000;

function validateNewKey(input: CreateApiKeyInput, grantorScopes: readonly string[] | null, now: Date) {
  const name = input.name.trim();
  if (!name) throw new ValidationError("name must not be empty", "name");
  if (name.length > MAX_NAME_LENGTH)
    throw new ValidationError(`name must be at most ${MAX_NAME_LENGTH} characters`, "name");
  if (input.scopes.length === 0) throw new ValidationError("a key needs at least one scope", "scopes");
  const unknown = input.scopes.find((scope) => !isScope(scope));
  if (unknown) throw new ValidationError(`unknown scope "${unknown}"`, "scopes");
  const scopes = [...new Set(input.scopes)] as Scope[];
  if (grantorScopes) {
    const operatorOnly = scopes.find((scope) => !grantableThroughApi(scope));
    if (operatorOnly)
      throw new ForbiddenError(
        `"${operatorOnly}" is granted only by the CLI (signalpost keys create --scopes ${operatorOnly})`,
        "scopes",
      );
    const beyond = scopes.find((scope) => !grants(grantorScopes, scope));
    if (beyond) throw new ValidationError(`you cannot grant "${beyond}": your credential does not hold it`, "scopes");
  }
  if (input.expiresAt && input.expiresAt.getTime() <= now.getTime()) {
    throw new ValidationError("expiresAt must be in the future", "expiresAt");
  }
  if (input.expiresAt && input.expiresAt.getTime() - now.getTime() > MAX_LIFETIME_MS) {
    throw new ValidationError("expiresAt must be within 5 years", "expiresAt");
  }
  return { name, scopes, expiresAt: input.expiresAt ?? null };
}

/**
 * Creates a key and returns it with its secret, which is never stored and cannot be shown again.
 * @param grantorScopes the creator's scopes (a key may only grant what it holds); null for the CLI and bootstrap.
 * @throws ValidationError naming the offending field; ForbiddenError (`scopes`) when an API caller asks for the
 * operator's `instance:admin`, which only the CLI and bootstrap (grantorScopes null) may grant.
 */
export async function createApiKey(
  tenantId: string,
  input: CreateApiKeyInput,
  origin: RequestOrigin,
  grantorScopes: readonly string[] | null,
): Promise<{ apiKey: ApiKey; token: string }> {
  const valid = validateNewKey(input, grantorScopes, new Date());
  const secret = newApiKeySecret();
  return prisma.$transaction(async (tx) => {
    const apiKey = await tx.apiKey.create({
      data: { tenantId, ...valid, secretHash: hashApiKeySecret(secret), lastChars: secret.slice(-4) },
    });
    await recordAudit(
      {
        tenantId,
        ...origin,
        action: "api_key.created",
        target: { type: "ApiKey", id: apiKey.id },
        metadata: { name: apiKey.name, scopes: apiKey.scopes },
      },
      tx,
    );
    await recordConsoleEvent(
      { tenantId, kind: "API_KEY_CREATED", apiKeyId: apiKey.id, data: { name: apiKey.name, scopes: apiKey.scopes } },
      tx,
    );
    return { apiKey, token: formatApiKey(apiKey.id, secret) };
  });
}

/**
 * One of the tenant's API keys, with the relations a GraphQL `query` asks for.
 * @throws NotFoundError (field `id`) for a missing, malformed or foreign id alike.
 */
export async function findApiKey(
  tenantId: string,
  id: string,
  client: Prisma.TransactionClient = prisma,
  query: { include?: Prisma.ApiKeyInclude; select?: Prisma.ApiKeySelect } = {},
): Promise<ApiKey> {
  return findOrNotFound("API key", id, () => client.apiKey.findFirst({ ...query, where: { id, tenantId } }));
}

/**
 * Revokes a key at once for every instance (a trigger announces the change to the rows they keep, api-key-rows.ts).
 * Revoking a revoked key changes nothing. @throws NotFoundError when the key is not this tenant's.
 */
export async function revokeApiKey(tenantId: string, id: string, origin: RequestOrigin): Promise<ApiKey> {
  return prisma.$transaction(async (tx) => {
    const existing = await findApiKey(tenantId, id, tx);
    if (existing.revokedAt) return existing;
    const apiKey = await tx.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    await recordAudit(
      {
        tenantId,
        ...origin,
        action: "api_key.revoked",
        target: { type: "ApiKey", id },
        metadata: { name: apiKey.name },
      },
      tx,
    );
    await recordConsoleEvent({ tenantId, kind: "API_KEY_REVOKED", apiKeyId: id, data: { name: apiKey.name } }, tx);
    return apiKey;
  });
}

export type KeyCheck = { ok: true; apiKey: ApiKey } | { ok: false; reason: "invalid" | "expired" | "revoked" };

/**
 * Checks a presented key. "invalid" covers malformed, unknown and wrong-secret alike, so a caller learns nothing
 * about which part was wrong; expiry and revocation are only told to someone who holds the real secret.
 */
export async function checkApiKey(
  token: string,
  rows: Pick<ApiKeyRows, "find"> = { find: findApiKeyRow },
  now = new Date(),
): Promise<KeyCheck> {
  const parsed = parseApiKey(token);
  if (!parsed) return { ok: false, reason: "invalid" };
  // Every authenticated request runs this: the row is the one kept in this process (api-key-rows.ts) or is read
  // from the pg pool directly (no Prisma runtime in between).
  const apiKey = await rows.find(parsed.id);
  // Hash anyway when the id is unknown, so both paths cost the same.
  const matches = secretMatches(parsed.secret, apiKey?.secretHash ?? "0".repeat(64));
  if (!apiKey || !matches) return { ok: false, reason: "invalid" };
  if (apiKey.revokedAt) return { ok: false, reason: "revoked" };
  if (apiKey.expiresAt && apiKey.expiresAt <= now) return { ok: false, reason: "expired" };
  return { ok: true, apiKey };
}

/** The console announces a key's use at most this often (on all instances together). */
const USAGE_ANNOUNCE_MS = 10_000;

/**
 * Records use of a key: lastUsedAt at most once a minute, and an API_KEY_USED console event at most once per 10 s.
 * Each is a conditional UPDATE, so concurrent requests and instances do not pile up; most requests write nothing.
 */
export async function noteApiKeyUsed(apiKey: ApiKey, now = new Date()): Promise<void> {
  const writes: Promise<unknown>[] = [];
  // The row may be one this process keeps (api-key-rows.ts), which these writes do not refresh: marked here, the
  // next requests of the minute (or the 10 s) write nothing. Another instance's mark is at least as recent.
  if (!apiKey.lastUsedAt || now.getTime() - apiKey.lastUsedAt.getTime() >= LAST_USED_PRECISION_MS) {
    writes.push(markApiKeyUsed(apiKey.id, now, new Date(now.getTime() - LAST_USED_PRECISION_MS)));
    apiKey.lastUsedAt = now;
  }
  if (!apiKey.usageAnnouncedAt || now.getTime() - apiKey.usageAnnouncedAt.getTime() >= USAGE_ANNOUNCE_MS) {
    apiKey.usageAnnouncedAt = now;
    writes.push(
      announceApiKeyUse(apiKey.id, now, new Date(now.getTime() - USAGE_ANNOUNCE_MS)).then((written) => {
        if (written) wakeConsole();
      }),
    );
  }
  await Promise.all(writes);
}
