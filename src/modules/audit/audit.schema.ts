import { builder } from "../../builder.js";
import { prisma } from "../../db/prisma.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { pageSize } from "../../graphql/pagination.js";
import { isUuid, NODE_TYPES, type NodeType, parseGlobalId, toGlobalId } from "../../lib/ids.js";
import { withMaskedUrl } from "../../lib/url-credentials.js";

/** Actors that are API keys (directly, or the key a session was made from): their actorId is the key's global id. */
const KEY_ACTORS = ["api_key", "session"];

/** The id an audit entry shows for its actor: an API key's global id, or an external token's subject as it came. */
function actorIdOf(entry: { actorType: string; actorId: string | null }): string | null {
  if (!entry.actorId) return null;
  return KEY_ACTORS.includes(entry.actorType) && isUuid(entry.actorId)
    ? toGlobalId("ApiKey", entry.actorId)
    : entry.actorId;
}

/** The id an audit entry shows for its target: the object's global id (instance settings keep the word "instance"). */
function targetIdOf(entry: { targetType: string | null; targetId: string | null }): string | null {
  const { targetType, targetId } = entry;
  if (!targetId || !isUuid(targetId)) return targetId;
  if (NODE_TYPES.includes(targetType as NodeType)) return toGlobalId(targetType as NodeType, targetId);
  // A tenant's own settings are named by the tenant.
  return targetType === "Settings" ? toGlobalId("Tenant", targetId) : targetId;
}

/** The where-clause for the actorId filter: an API key's global id, or an external subject as shown. */
function actorWhere(actorId: string): Prisma.AuditEntryWhereInput {
  const key = parseGlobalId(actorId);
  if (key?.type === "ApiKey") return { actorId: key.id, actorType: { in: KEY_ACTORS } };
  return { actorId, actorType: { notIn: KEY_ACTORS } };
}

builder.prismaNode("AuditEntry", {
  id: { field: "id" },
  description: "One audited change: who (actor), what (action), to which object (target), from where (ip).",
  fields: (t) => ({
    action: t.exposeString("action", { description: "A dotted verb such as api_key.created." }),
    actorType: t.exposeString("actorType", { description: "Who acted: api_key, session, external, system or cli." }),
    actorId: t.string({
      description: "The id of whoever acted (an API key's id for keys and sessions); null for the system.",
      nullable: true,
      resolve: actorIdOf,
    }),
    actorName: t.exposeString("actorName", {
      nullable: true,
      description:
        "The actor's name when it acted (the API key's name, or an external token's name claim); null when there was none.",
    }),
    targetType: t.exposeString("targetType", {
      nullable: true,
      description: "The kind of object changed, such as Endpoint, Agent or ApiKey; null when the action has no target.",
    }),
    targetId: t.string({
      nullable: true,
      description:
        "The changed object's id (a global id, usable with `node`; a tenant's settings are named by the tenant's id); null when the action has no target.",
      resolve: targetIdOf,
    }),
    ip: t.exposeString("ip", {
      nullable: true,
      description:
        "The address the request came from (the TCP peer, or through SIGNALPOST_TRUSTED_PROXIES the client they forward); null when the action came without a request.",
    }),
    userAgent: t.exposeString("userAgent", {
      nullable: true,
      description: "The request's User-Agent header; null when there was none.",
    }),
    requestId: t.exposeString("requestId", {
      nullable: true,
      description:
        "The request's id: its x-request-id (1 to 128 visible ASCII characters) or the one the server made and answered with; its log lines carry it too. Null when the action came without a request.",
    }),
    metadata: t.field({
      type: "JSON",
      nullable: true,
      description:
        "Details by action, such as the names of the fields an update changed; an endpoint URL in it (metadata.url) has its credentials masked, as Endpoint.url. Null when there are none.",
      resolve: (entry) => withMaskedUrl(entry.metadata),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const AuditLogFilter = builder.inputType("AuditLogFilter", {
  description: "Narrows the audit log; every field given must match.",
  fields: (t) => ({
    actions: t.stringList({ required: false, description: 'Only these actions, e.g. ["api_key.revoked"].' }),
    actorId: t.string({
      required: false,
      description:
        "Only what this actor did: an API key's id (its sessions included) or an external token's subject as shown in actorId.",
    }),
    since: t.field({ type: "DateTime", required: false, description: "Inclusive." }),
    until: t.field({ type: "DateTime", required: false, description: "Exclusive." }),
  }),
});

builder.queryField("auditLog", (t) =>
  t.withAuth({ scope: "audit:read" }).prismaConnection(
    {
      type: "AuditEntry",
      cursor: "id",
      ...pageSize({ defaultSize: 50, maxSize: 200 }),
      description: "The tenant's audit log, newest first.",
      args: { filter: t.arg({ type: AuditLogFilter, required: false }) },
      resolve: (query, _root, { filter }, context) => {
        const where: Prisma.AuditEntryWhereInput = { tenantId: context.viewer.tenantId };
        if (filter?.actions?.length) where.action = { in: filter.actions };
        if (filter?.actorId) Object.assign(where, actorWhere(filter.actorId));
        if (filter?.since || filter?.until) {
          where.createdAt = {
            ...(filter.since ? { gte: filter.since } : {}),
            ...(filter.until ? { lt: filter.until } : {}),
          };
        }
        return prisma.auditEntry.findMany({ ...query, where, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
      },
    },
    { name: "AuditEntryConnection" },
    { name: "AuditEntryEdge" },
  ),
);
