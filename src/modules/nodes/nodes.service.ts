import { prisma } from "../../db/prisma.js";
import { ForbiddenError } from "../../lib/errors.js";
import { type NodeType, parseGlobalId } from "../../lib/ids.js";
import { grants, INSTANCE_ADMIN, type Scope } from "../identity/scopes.js";
import type { Viewer } from "../identity/viewer.js";

/** The most ids one `nodes` call looks up: a page of a connection (100) at most. */
export const MAX_NODE_IDS = 100;

/** A row `node(id:)` found, with the GraphQL type it is shown as. */
export interface FoundNode {
  type: NodeType;
  row: { id: string };
}

/** The caller's tenant's rows among `ids`. */
function inTenant(viewer: Viewer, ids: string[]) {
  return { where: { id: { in: ids }, tenantId: viewer.tenantId } };
}

/** How each node type is read: the scope a caller needs (the same as the type's own query field) and its rows. */
const READERS: Record<
  NodeType,
  { scope: Scope | null; load: (viewer: Viewer, ids: string[]) => Promise<{ id: string }[]> }
> = {
  Agent: {
    scope: "agents:read",
    load: (v, ids) => prisma.agent.findMany(inTenant(v, ids)),
  },
  AgentExecution: {
    scope: "agents:read",
    load: (v, ids) => prisma.agentExecution.findMany(inTenant(v, ids)),
  },
  ApiKey: {
    scope: "keys:read",
    load: (v, ids) => prisma.apiKey.findMany(inTenant(v, ids)),
  },
  AuditEntry: {
    scope: "audit:read",
    load: (v, ids) => prisma.auditEntry.findMany(inTenant(v, ids)),
  },
  Delivery: {
    scope: "deliveries:read",
    load: (v, ids) => prisma.delivery.findMany(inTenant(v, ids)),
  },
  DeliveryAttempt: {
    scope: "deliveries:read",
    load: (v, ids) => prisma.deliveryAttempt.findMany(inTenant(v, ids)),
  },
  Endpoint: {
    scope: "endpoints:read",
    load: (v, ids) => prisma.endpoint.findMany(inTenant(v, ids)),
  },
  Event: {
    scope: "deliveries:read",
    load: (v, ids) => prisma.event.findMany(inTenant(v, ids)),
  },
  EventType: {
    scope: "endpoints:read",
    load: (v, ids) => prisma.eventType.findMany(inTenant(v, ids)),
  },
  // Every caller may read its own tenant (as `viewer.tenant` shows it); other tenants only the instance's operator.
  Tenant: {
    scope: null,
    load: (v, ids) =>
      prisma.tenant.findMany({
        where: grants(v.scopes, INSTANCE_ADMIN)
          ? { id: { in: ids } }
          : { id: { in: ids.filter((id) => id === v.tenantId) } },
      }),
  },
};

/**
 * The objects the caller's global ids name, in the order given: the row, null for an id that names nothing the caller
 * may see (malformed, a bare uuid, missing, another tenant's: all alike), or a ForbiddenError for an id of a type the
 * caller lacks the read scope for (decided from the id's type alone, before any read, so it tells nothing of rows).
 * One query per type, whatever the number of ids.
 */
export async function loadNodes(
  viewer: Viewer,
  globalIds: readonly string[],
): Promise<(FoundNode | ForbiddenError | null)[]> {
  const parsed = globalIds.map((globalId) => parseGlobalId(globalId));
  const wanted = new Map<NodeType, string[]>();
  for (const id of parsed) {
    if (id && canRead(viewer, id.type)) wanted.set(id.type, [...(wanted.get(id.type) ?? []), id.id]);
  }
  const found = new Map<string, FoundNode>();
  await Promise.all(
    [...wanted].map(async ([type, ids]) => {
      for (const row of await READERS[type].load(viewer, [...new Set(ids)]))
        found.set(`${type}:${row.id}`, { type, row });
    }),
  );
  return parsed.map((id) => {
    if (!id) return null;
    if (!canRead(viewer, id.type)) {
      const scope = READERS[id.type].scope;
      return new ForbiddenError(`Reading a ${id.type} needs the ${scope} scope`, "id");
    }
    return found.get(`${id.type}:${id.id}`) ?? null;
  });
}

function canRead(viewer: Viewer, type: NodeType): boolean {
  const scope = READERS[type].scope;
  return scope === null || grants(viewer.scopes, scope);
}
