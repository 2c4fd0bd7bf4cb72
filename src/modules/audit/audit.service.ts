import { prisma } from "../../db/prisma.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { currentRequestId } from "../../lib/request-context.js";
import type { AuditActor } from "../identity/viewer.js";

export interface AuditRecord {
  tenantId: string;
  actor: AuditActor;
  /** A dotted verb: `api_key.created`, `endpoint_secret.revealed`... */
  action: string;
  target?: { type: string; id: string };
  ip?: string | null;
  userAgent?: string | null;
  metadata?: Prisma.InputJsonValue;
}

/**
 * Writes an audit entry, with the id of the request running it (lib/request-context.ts). Pass the transaction
 * client of the change being recorded, so that the change and its entry are committed together or not at all.
 */
export async function recordAudit(entry: AuditRecord, client: Prisma.TransactionClient = prisma): Promise<void> {
  await client.auditEntry.create({
    data: {
      tenantId: entry.tenantId,
      actorType: entry.actor.type,
      actorId: entry.actor.id,
      actorName: entry.actor.name,
      action: entry.action,
      targetType: entry.target?.type ?? null,
      targetId: entry.target?.id ?? null,
      ip: entry.ip ?? null,
      userAgent: entry.userAgent ?? null,
      requestId: currentRequestId() ?? null,
      metadata: entry.metadata,
    },
  });
}
