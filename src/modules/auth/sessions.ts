import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { deriveKey, type Keyring } from "../../lib/master-key.js";
import { isScope, type Scope } from "../identity/scopes.js";

/** Our own session tokens carry this issuer; anything else is an external token (or nothing we accept). */
export const SESSION_ISSUER = "signalpost";
const AUDIENCE = "signalpost-api";
const PURPOSE = "session-jwt";

export interface SessionClaims {
  tenantId: string;
  apiKeyId: string;
  scopes: Scope[];
  expiresAt: Date;
}

/**
 * Signs a short-lived session JWT (HS256) with a key derived from the current master key; its id goes in `kid` so
 * that tokens signed before a master-key rotation still verify.
 */
export async function issueSessionToken(
  keyring: Keyring,
  claims: Omit<SessionClaims, "expiresAt">,
  ttlSeconds: number,
) {
  const { current } = keyring;
  const expiresAt = new Date(Math.floor(Date.now() / 1000 + ttlSeconds) * 1000);
  const token = await new SignJWT({ tid: claims.tenantId, scp: claims.scopes })
    .setProtectedHeader({ alg: "HS256", kid: current.id, typ: "JWT" })
    .setIssuer(SESSION_ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(claims.apiKeyId)
    .setIssuedAt()
    .setExpirationTime(expiresAt)
    .sign(deriveKey(current, PURPOSE));
  return { token, expiresAt };
}

export type SessionCheck = { ok: true; claims: SessionClaims } | { ok: false; reason: "invalid" | "expired" };

/** Verifies signature, issuer, audience and expiry. Tampered, foreign-key and malformed tokens are all "invalid". */
export async function verifySessionToken(keyring: Keyring, token: string): Promise<SessionCheck> {
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const master = header.kid ? keyring.byId.get(header.kid) : undefined;
        if (!master) throw new joseErrors.JWSSignatureVerificationFailed();
        return deriveKey(master, PURPOSE);
      },
      { issuer: SESSION_ISSUER, audience: AUDIENCE, algorithms: ["HS256"] },
    );
    const scopes = Array.isArray(payload.scp)
      ? payload.scp.filter((scope): scope is Scope => typeof scope === "string" && isScope(scope))
      : [];
    if (typeof payload.tid !== "string" || typeof payload.sub !== "string" || typeof payload.exp !== "number") {
      return { ok: false, reason: "invalid" };
    }
    return {
      ok: true,
      claims: { tenantId: payload.tid, apiKeyId: payload.sub, scopes, expiresAt: new Date(payload.exp * 1000) },
    };
  } catch (error) {
    return { ok: false, reason: error instanceof joseErrors.JWTExpired ? "expired" : "invalid" };
  }
}
