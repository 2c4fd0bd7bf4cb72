/**
 * Every scope a credential can hold. `admin` implies all of them. A key can only hand out scopes it holds itself,
 * so no credential can mint a more powerful one.
 */
export const SCOPES = [
  "admin",
  "keys:read",
  "keys:write",
  "audit:read",
  "endpoints:read",
  "endpoints:write",
  "events:publish",
  "deliveries:read",
  "deliveries:write",
  "agents:read",
  "agents:write",
  "secrets:reveal",
  "console:read",
  "settings:read",
  "settings:write",
] as const;

export type Scope = (typeof SCOPES)[number];

const known = new Set<string>(SCOPES);

export function isScope(value: string): value is Scope {
  return known.has(value);
}

/** True when `held` grants `required`, directly or through `admin`. */
export function grants(held: readonly string[], required: Scope): boolean {
  return held.includes(required) || held.includes("admin");
}

/** The GraphQL enum name of a scope: `endpoints:read` is ENDPOINTS_READ. */
export function scopeEnumName(scope: Scope): string {
  return scope.replace(/[:-]/g, "_").toUpperCase();
}
