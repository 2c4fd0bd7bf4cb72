import { type NodeType, parseGlobalId, toGlobalId } from "../../src/lib/ids.js";

/**
 * The API's id of a row read or written through Prisma or a service (which work with uuids): what a client would
 * have received for it. `gid("Endpoint", endpoint.id)`.
 */
export function gid(type: NodeType, uuid: string): string {
  return toGlobalId(type, uuid);
}

/** The row uuid an API id names, for reading the row back through Prisma. @throws when it is not a global id. */
export function uuidOf(globalId: string): string {
  const parsed = parseGlobalId(globalId);
  if (!parsed) throw new Error(`not a global id: ${globalId}`);
  return parsed.id;
}

/** The uuid of an API id, or a uuid as it is (rows written through services): for helpers that read both. */
export function rowIdOf(idOrUuid: string): string {
  return parseGlobalId(idOrUuid)?.id ?? idOrUuid;
}
