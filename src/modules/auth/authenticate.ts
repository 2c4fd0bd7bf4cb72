import { decodeJwt } from "jose";
import { LRUCache } from "lru-cache";
import type { ExternalJwtConfig } from "../../config.js";
import { prisma } from "../../db/prisma.js";
import { type RateLimit, rateLimit } from "../../db/rate-limit.js";
import type { Keyring } from "../../lib/master-key.js";
import { ApiKeyRows } from "../api-keys/api-key-rows.js";
import { parseApiKey } from "../api-keys/api-key-token.js";
import { checkApiKey, noteApiKeyUsed } from "../api-keys/api-keys.service.js";
import { grants, isScope } from "../identity/scopes.js";
import type { Viewer } from "../identity/viewer.js";
import { type ExternalCheck, externalJwtVerifier } from "./external-jwt.js";
import { issueSessionToken, SESSION_ISSUER, type SessionClaims, verifySessionToken } from "./sessions.js";

/** Why a credential was refused; the message is safe to show (it never says which part of a key was wrong). */
export class AuthenticationError extends Error {
  constructor(
    message: string,
    readonly code: "UNAUTHENTICATED" | "RATE_LIMITED" = "UNAUTHENTICATED",
    readonly retryAfterSeconds = 0,
  ) {
    super(message);
    this.name = "AuthenticationError";
  }
}

/**
 * Failed authentications allowed per client address, and per API key id (someone guessing the secret of one key from
 * many addresses), before further failures are answered RATE_LIMITED. Only failures are throttled: a credential that
 * verifies is always accepted, so nobody behind the same NAT or proxy as an attacker, and no key an attacker names,
 * is locked out. That means a blocked guesser is still checked, so what makes guessing hopeless is the credential, not
 * the counter: API keys carry 256-bit random secrets, and session and external tokens are signed. The counter bounds
 * what guessing costs us (a blocked source writes nothing more) and tells the guesser to stop with a 429.
 */
const FAILURES_PER_WINDOW = 30;
const KEY_FAILURES_PER_WINDOW = 100;
const FAILURE_WINDOW_SECONDS = 300;
const addressFailures = () => rateLimit("auth-failures", FAILURES_PER_WINDOW, FAILURE_WINDOW_SECONDS);
const keyFailures = () => rateLimit("auth-key-failures", KEY_FAILURES_PER_WINDOW, FAILURE_WINDOW_SECONDS);

/** The token from `Authorization: Bearer <token>` or `X-Api-Key: <key>`; null when neither is sent. */
export function tokenFromHeaders(headers: Headers): string | null {
  const authorization = headers.get("authorization");
  if (authorization) return /^Bearer\s+(.+)$/i.exec(authorization.trim())?.[1]?.trim() ?? authorization.trim();
  return headers.get("x-api-key")?.trim() || null;
}

/** The token from graphql-ws `connectionParams`: `authorization` ("Bearer ..."), `apiKey` or `token`. */
export function tokenFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): string | null {
  if (!params) return null;
  const authorization = params.authorization ?? params.Authorization;
  if (typeof authorization === "string")
    return /^Bearer\s+(.+)$/i.exec(authorization.trim())?.[1] ?? authorization.trim();
  for (const name of ["apiKey", "token"]) {
    const value = params[name];
    if (typeof value === "string" && value.trim()) return value.trim();
  }
  return null;
}

/**
 * Turns presented credentials into viewers and issues session tokens, with this instance's keyring, session lifetime
 * and optional external identity provider (built once by the app context).
 */
export class Authenticator {
  readonly keyring: Keyring;
  readonly sessionTtlSeconds: number;
  readonly #verifyExternal: ((token: string) => Promise<ExternalCheck>) | undefined;
  readonly #externalIssuer: string | undefined;
  /**
   * Limiter keys (addresses and key ids) known to be over their failure budget, until their window frees up: a
   * blocked attacker's further failures are refused without another counter write each. Verification still runs
   * for every request (one primary-key lookup), because a valid credential from a blocked address must pass.
   * 10,000 entries (about 1 MB) covers far more blocked sources than one instance sees in a window; past it the
   * least recently seen is forgotten, which costs it one counter write, never a wrong answer.
   */
  readonly #blocked = new LRUCache<string, number>({ max: 10_000 });
  /** The API-key rows keys and sessions are checked against; kept while the app context LISTENs (wireApp). */
  readonly apiKeyRows = new ApiKeyRows();

  constructor(options: { keyring: Keyring; sessionTtlSeconds: number; externalJwt?: ExternalJwtConfig }) {
    this.keyring = options.keyring;
    this.sessionTtlSeconds = options.sessionTtlSeconds;
    this.#verifyExternal = options.externalJwt ? externalJwtVerifier(options.externalJwt) : undefined;
    this.#externalIssuer = options.externalJwt?.issuer;
  }

  /** A session token for `claims`, valid for this instance's session lifetime. */
  issueSession(claims: Omit<SessionClaims, "expiresAt">): Promise<{ token: string; expiresAt: Date }> {
    return issueSessionToken(this.keyring, claims, this.sessionTtlSeconds);
  }

  /**
   * Turns a presented token into a viewer: an API key (`sp_...`), one of our session JWTs, or a token from the
   * configured identity provider. No token means anonymous (null). The credential is verified first and a valid one
   * always passes; failures are counted per client address and per key id, and past either budget a failure is
   * answered RATE_LIMITED (with Retry-After) instead of UNAUTHENTICATED.
   * @throws AuthenticationError
   */
  async authenticate(token: string | null, ip: string | null): Promise<Viewer | null> {
    if (token === null) return null;
    try {
      return await this.#verifyToken(token);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      // The address first: once it is over budget, its made-up key ids (a fresh one per guess) are not counted, so a
      // blocked guesser costs no counter writes at all.
      const keyId = token.startsWith("sp_") ? parseApiKey(token)?.id : undefined;
      const addressWait = await this.#countFailure(addressFailures(), ip ?? "unknown");
      const retryAfterSeconds =
        addressWait > 0 || !keyId ? addressWait : await this.#countFailure(keyFailures(), keyId);
      if (retryAfterSeconds > 0) {
        throw new AuthenticationError(
          "Too many failed authentication attempts; try again later",
          "RATE_LIMITED",
          retryAfterSeconds,
        );
      }
      throw error;
    }
  }

  /** Counts one failure for `key`; the seconds it must wait when over its budget, else 0. */
  async #countFailure(limit: RateLimit, key: string): Promise<number> {
    const blockedKey = `${limit.name}:${key}`;
    const blockedUntil = this.#blocked.get(blockedKey) ?? 0;
    if (blockedUntil > Date.now()) return Math.ceil((blockedUntil - Date.now()) / 1000);
    const decision = await limit.consume(key);
    if (decision.allowed) return 0;
    this.#blocked.set(blockedKey, Date.now() + decision.retryAfterSeconds * 1000);
    return decision.retryAfterSeconds;
  }

  async #verifyToken(token: string): Promise<Viewer> {
    if (token.startsWith("sp_")) return viewerFromApiKey(this.apiKeyRows, token);
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw new AuthenticationError("Invalid credentials: expected an API key or a bearer token");
    }
    if (issuer === SESSION_ISSUER) return viewerFromSession(this.apiKeyRows, this.keyring, token);
    if (this.#verifyExternal && issuer === this.#externalIssuer) return viewerFromExternal(token, this.#verifyExternal);
    throw new AuthenticationError("Invalid token");
  }
}

async function viewerFromApiKey(rows: ApiKeyRows, token: string): Promise<Viewer> {
  const check = await checkApiKey(token, rows);
  if (!check.ok) {
    throw new AuthenticationError(
      check.reason === "revoked"
        ? "API key has been revoked"
        : check.reason === "expired"
          ? "API key has expired"
          : "Invalid API key",
    );
  }
  const { apiKey } = check;
  // Best effort: a failed lastUsedAt update must not fail the request.
  void noteApiKeyUsed(apiKey).catch(() => undefined);
  return {
    tenantId: apiKey.tenantId,
    scopes: apiKey.scopes.filter(isScope),
    method: "api_key",
    apiKeyId: apiKey.id,
    actorId: apiKey.id,
    actorName: apiKey.name,
    expiresAt: apiKey.expiresAt,
  };
}

async function viewerFromSession(rows: ApiKeyRows, keyring: Keyring, token: string): Promise<Viewer> {
  const check = await verifySessionToken(keyring, token);
  if (!check.ok)
    throw new AuthenticationError(check.reason === "expired" ? "Session has expired" : "Invalid session token");
  const { claims } = check;
  // A session dies with the key it came from.
  const apiKey = await rows.find(claims.apiKeyId);
  if (!apiKey || apiKey.tenantId !== claims.tenantId) throw new AuthenticationError("Invalid session token");
  if (apiKey.revokedAt) throw new AuthenticationError("Session's API key has been revoked");
  if (apiKey.expiresAt && apiKey.expiresAt <= new Date())
    throw new AuthenticationError("Session's API key has expired");
  return {
    tenantId: claims.tenantId,
    scopes: claims.scopes.filter((scope) => grants(apiKey.scopes, scope)),
    method: "session",
    apiKeyId: apiKey.id,
    actorId: apiKey.id,
    actorName: apiKey.name,
    expiresAt: claims.expiresAt,
  };
}

async function viewerFromExternal(token: string, verify: (token: string) => Promise<ExternalCheck>): Promise<Viewer> {
  const check = await verify(token);
  if (!check.ok) throw new AuthenticationError(check.reason === "expired" ? "Token has expired" : "Invalid token");
  const tenant = await prisma.tenant.findUnique({ where: { slug: check.claims.tenantSlug } });
  if (!tenant) throw new AuthenticationError("Invalid token: unknown tenant");
  return {
    tenantId: tenant.id,
    scopes: check.claims.scopes,
    method: "external",
    apiKeyId: null,
    actorId: check.claims.subject,
    actorName: check.claims.name,
    expiresAt: check.claims.expiresAt,
  };
}
