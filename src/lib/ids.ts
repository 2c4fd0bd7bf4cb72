const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its usual text form. Ids that are not UUIDs can never exist, so callers answer NOT_FOUND. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
