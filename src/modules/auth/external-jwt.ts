import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from "jose";
import type { ExternalJwtConfig } from "../../config.js";
import { grantableThroughApi, isScope, type Scope } from "../identity/scopes.js";

export interface ExternalClaims {
  tenantSlug: string;
  scopes: Scope[];
  subject: string;
  name: string | null;
  expiresAt: Date | null;
}

export type ExternalCheck = { ok: true; claims: ExternalClaims } | { ok: false; reason: "invalid" | "expired" };

/**
 * Verifies tokens from a trusted identity provider against its JWKS (fetched and cached by jose, refetched when an
 * unknown `kid` appears), then maps its claims: the tenant claim names a tenant slug, the scopes claim lists scopes
 * (space-separated or an array; unknown ones, and the operator's `instance:admin`, are ignored).
 */
export function externalJwtVerifier(config: ExternalJwtConfig): (token: string) => Promise<ExternalCheck> {
  const jwks = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: ["RS256", "ES256", "EdDSA", "PS256"],
      });
      const tenantSlug = payload[config.tenantClaim];
      const rawScopes = payload[config.scopesClaim];
      const scopeList =
        typeof rawScopes === "string" ? rawScopes.split(" ") : Array.isArray(rawScopes) ? rawScopes : [];
      if (typeof tenantSlug !== "string" || typeof payload.sub !== "string") return { ok: false, reason: "invalid" };
      return {
        ok: true,
        claims: {
          tenantSlug,
          // An identity provider speaks for tenants, never for the operator: instance:admin in a token is ignored.
          scopes: scopeList.filter(
            (scope): scope is Scope => typeof scope === "string" && isScope(scope) && grantableThroughApi(scope),
          ),
          subject: payload.sub,
          name: typeof payload.name === "string" ? payload.name : null,
          expiresAt: typeof payload.exp === "number" ? new Date(payload.exp * 1000) : null,
        },
      };
    } catch (error) {
      return { ok: false, reason: error instanceof joseErrors.JWTExpired ? "expired" : "invalid" };
    }
  };
}
