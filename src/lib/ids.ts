const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its usual text form. Ids that are not UUIDs can never exist, so callers answer NOT_FOUND. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * The one treatment of a caller's id in a where-clause (a list filter such as `agentId` or `filter.endpointId`): the
 * id itself, or, for a malformed id, a condition no row meets. A malformed id names no row, exactly like a missing
 * one, and PostgreSQL would refuse it as a uuid; the list is then empty, never an error. Finds by id answer
 * NOT_FOUND through `findOrNotFound` (src/lib/errors.ts), which applies the same rule.
 */
export function idFilter(id: string): string | { in: string[] } {
  return isUuid(id) ? id : { in: [] };
}
