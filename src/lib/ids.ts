const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The smallest uuid: a keyset walk over uuid keys (`WHERE id > $after ORDER BY id`) starts after it. */
export const SMALLEST_UUID = "00000000-0000-0000-0000-000000000000";

/** True for a UUID in its usual text form. Ids that are not UUIDs can never exist, so callers answer NOT_FOUND. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * The GraphQL types whose objects have a global id (the Relay `Node` interface). A global id names its type, so
 * `node(id:)` knows where to look and an id of one type never finds an object of another.
 */
export const NODE_TYPES = [
  "Agent",
  "AgentExecution",
  "ApiKey",
  "AuditEntry",
  "Delivery",
  "DeliveryAttempt",
  "Endpoint",
  "Event",
  "EventType",
  "Tenant",
] as const;

export type NodeType = (typeof NODE_TYPES)[number];

const nodeTypes = new Set<string>(NODE_TYPES);

/** The longest global id worth decoding: the longest type name, a colon and a uuid, in base64url. */
const MAX_GLOBAL_ID_LENGTH = 96;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The id every API surface shows for a row: base64url (no padding) of `<TypeName>:<uuid>`. Clients treat it as an
 * opaque string; only this module reads inside it.
 */
export function toGlobalId(type: NodeType, uuid: string): string {
  return Buffer.from(`${type}:${uuid}`, "utf8").toString("base64url");
}

/**
 * What a global id names: its type and the row's uuid, or null when it is not one of ours (malformed, not base64url,
 * an unknown type, or a bare uuid). Never throws: a caller's id that names nothing is answered like a missing row.
 */
export function parseGlobalId(globalId: string): { type: NodeType; id: string } | null {
  if (typeof globalId !== "string" || globalId.length > MAX_GLOBAL_ID_LENGTH || !BASE64URL.test(globalId)) return null;
  const decoded = Buffer.from(globalId, "base64url").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  const type = decoded.slice(0, colon);
  const id = decoded.slice(colon + 1);
  if (!nodeTypes.has(type) || !isUuid(id)) return null;
  // Only the canonical spelling names the row: one object, one id (a cache keyed on ids never holds it twice).
  if (toGlobalId(type as NodeType, id) !== globalId) return null;
  return { type: type as NodeType, id };
}

/**
 * What `localId` returns for an id that names no row of the expected type: not a uuid (so no row has it) and not empty
 * (so a filter set to it still filters, where an absent filter would match everything).
 */
export const NO_ROW_ID = "no-such-row";

/**
 * The row uuid a caller's global id names for the expected type, or `NO_ROW_ID` when it names none of that type
 * (malformed, another type, a bare uuid). The usual rules then answer for it: a find gives NOT_FOUND through
 * `findOrNotFound` (src/lib/errors.ts), exactly like a missing row, and `idFilter` turns a list filter on it into one
 * that matches nothing.
 */
export function localId(type: NodeType, globalId: string): string {
  const parsed = parseGlobalId(globalId);
  return parsed && parsed.type === type ? parsed.id : NO_ROW_ID;
}

/** `localId` for an optional argument or filter field: absent (null, undefined or empty) stays as given. */
export function optionalLocalId<T extends null | undefined | "">(type: NodeType, globalId: string | T): string | T {
  return globalId ? localId(type, globalId) : (globalId as T);
}

/** `toGlobalId` for a nullable column (a console event's endpointId, an audit entry's target). */
export function toOptionalGlobalId(type: NodeType, uuid: string | null | undefined): string | null {
  return uuid ? toGlobalId(type, uuid) : null;
}

/**
 * The one treatment of a caller's id in a where-clause (a list filter such as `agentId` or `filter.endpointId`), once
 * decoded with `localId`: the id itself, or, for one that names no row, a condition no row meets. A malformed id
 * names no row, exactly like a missing one, and PostgreSQL would refuse it as a uuid; the list is then empty, never
 * an error. Finds by id answer NOT_FOUND through `findOrNotFound` (src/lib/errors.ts), which applies the same rule.
 */
export function idFilter(id: string): string | { in: string[] } {
  return isUuid(id) ? id : { in: [] };
}
