import { decodeJwt } from "jose";
import { LRUCache } from "lru-cache";
import type { ExternalJwtConfig } from "../../config.js";
import { prisma } from "../../db/prisma.js";
import { rateLimit } from "../../db/rate-limit.js";
import type { Keyring } from "../../lib/master-key.js";
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

/** Failed authentications allowed per client address before it has to wait. */
const FAILURES_PER_WINDOW = 30;
const FAILURE_WINDOW_SECONDS = 300;
const failures = () => rateLimit("auth-failures", FAILURES_PER_WINDOW, FAILURE_WINDOW_SECONDS);

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
   * Addresses found under the failure limit, remembered for a second: checking the shared counter on every request
   * would add a database round trip to each one. An attacker gains at most a second per instance. 10,000 addresses
   * seen within one second is far beyond a single instance's request rate; past it the least recently seen address
   * is forgotten, which costs it one more counter check, never a wrong answer.
   */
  readonly #recentlyAllowed = new LRUCache<string, true>({ max: 10_000, ttl: 1_000 });

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
   * configured identity provider. No token means anonymous (null). Repeated failures from one address are refused
   * for a while (RATE_LIMITED) before any check runs.
   * @throws AuthenticationError
   */
  async authenticate(token: string | null, ip: string | null): Promise<Viewer | null> {
    if (token === null) return null;
    const limiterKey = ip ?? "unknown";
    const gate = await this.#failureGate(limiterKey);
    if (!gate.allowed) {
      throw new AuthenticationError(
        "Too many failed authentication attempts; try again later",
        "RATE_LIMITED",
        gate.retryAfterSeconds,
      );
    }
    try {
      return await this.#verifyToken(token);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        this.#recentlyAllowed.delete(limiterKey);
        await failures().consume(limiterKey);
      }
      throw error;
    }
  }

  async #failureGate(key: string) {
    if (this.#recentlyAllowed.get(key)) return { allowed: true, retryAfterSeconds: 0 };
    const gate = await failures().peek(key);
    if (gate.allowed) this.#recentlyAllowed.set(key, true);
    return gate;
  }

  async #verifyToken(token: string): Promise<Viewer> {
    if (token.startsWith("sp_")) return viewerFromApiKey(token);
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw new AuthenticationError("Invalid credentials: expected an API key or a bearer token");
    }
    if (issuer === SESSION_ISSUER) return viewerFromSession(this.keyring, token);
    if (this.#verifyExternal && issuer === this.#externalIssuer) return viewerFromExternal(token, this.#verifyExternal);
    throw new AuthenticationError("Invalid token");
  }
}

async function viewerFromApiKey(token: string): Promise<Viewer> {
  const check = await checkApiKey(token);
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

async function viewerFromSession(keyring: Keyring, token: string): Promise<Viewer> {
  const check = await verifySessionToken(keyring, token);
  if (!check.ok)
    throw new AuthenticationError(check.reason === "expired" ? "Session has expired" : "Invalid session token");
  const { claims } = check;
  // A session dies with the key it came from.
  const apiKey = await prisma.apiKey.findUnique({ where: { id: claims.apiKeyId } });
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
