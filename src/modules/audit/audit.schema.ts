import { builder } from "../../builder.js";
import { prisma } from "../../db/prisma.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { pageSize } from "../../graphql/pagination.js";

builder.prismaObject("AuditEntry", {
  description: "One audited change: who (actor), what (action), to which object (target), from where (ip).",
  fields: (t) => ({
    id: t.exposeID("id"),
    action: t.exposeString("action", { description: "A dotted verb such as api_key.created." }),
    actorType: t.exposeString("actorType", { description: "Who acted: api_key, session, external, system or cli." }),
    actorId: t.exposeString("actorId", { nullable: true }),
    actorName: t.exposeString("actorName", { nullable: true }),
    targetType: t.exposeString("targetType", { nullable: true }),
    targetId: t.exposeString("targetId", { nullable: true }),
    ip: t.exposeString("ip", { nullable: true }),
    userAgent: t.exposeString("userAgent", { nullable: true }),
    metadata: t.expose("metadata", { type: "JSON", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const AuditLogFilter = builder.inputType("AuditLogFilter", {
  description: "Narrows the audit log; every field given must match.",
  fields: (t) => ({
    actions: t.stringList({ required: false, description: 'Only these actions, e.g. ["api_key.revoked"].' }),
    actorId: t.string({ required: false }),
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
        if (filter?.actorId) where.actorId = filter.actorId;
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
