/**
 * Every scope a credential can hold. `admin` implies all of them but `instance:admin`. A key can only hand out scopes
 * it holds itself, so no credential can mint a more powerful one.
 *
 * `instance:admin` belongs to the installation's operator, not to a tenant: it changes settings that apply to every
 * tenant (URL rules, private ranges, metrics, public URL, default retry policy). Only the CLI and the first key of a
 * fresh install grant it; no API path does (see {@link grantableThroughApi}).
 */
export const SCOPES = [
  "admin",
  "instance:admin",
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

/** The operator's scope: instance-wide settings. No tenant scope implies it, `admin` included. */
export const INSTANCE_ADMIN = "instance:admin" satisfies Scope;

/** What the operator scope brings along, so that an operator key made with only `instance:admin` can use it. */
const IMPLIED_BY_INSTANCE_ADMIN: ReadonlySet<Scope> = new Set<Scope>(["settings:read", "settings:write"]);

/**
 * True when `held` grants `required`: directly, through `admin` (every tenant scope), or through `instance:admin`
 * (reading and writing settings). `instance:admin` itself is granted only by holding it.
 */
export function grants(held: readonly string[], required: Scope): boolean {
  if (held.includes(required)) return true;
  if (required === INSTANCE_ADMIN) return false;
  return held.includes("admin") || (IMPLIED_BY_INSTANCE_ADMIN.has(required) && held.includes(INSTANCE_ADMIN));
}

/** Scopes an API call (createApiKey, an external token) may carry: all but the operator's, which only the CLI grants. */
export function grantableThroughApi(scope: string): boolean {
  return scope !== INSTANCE_ADMIN;
}

/** The GraphQL enum name of a scope: `endpoints:read` is ENDPOINTS_READ. */
export function scopeEnumName(scope: Scope): string {
  return scope.replace(/[:-]/g, "_").toUpperCase();
}
