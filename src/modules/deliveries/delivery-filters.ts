import type { DeliveryStatus, Prisma } from "../../generated/prisma/client.js";
import { ValidationError } from "../../lib/errors.js";
import { idFilter } from "../../lib/ids.js";

/** Status-code classes the delivery log filters on; NO_RESPONSE is a network error or timeout (no status at all). */
export const STATUS_CODE_CLASSES = [
  "SUCCESS_2XX",
  "REDIRECT_3XX",
  "CLIENT_ERROR_4XX",
  "SERVER_ERROR_5XX",
  "NO_RESPONSE",
] as const;
export type StatusCodeClass = (typeof STATUS_CODE_CLASSES)[number];

export interface DeliveryFilter {
  endpointId?: string | null;
  eventId?: string | null;
  eventType?: string | null;
  statuses?: readonly DeliveryStatus[] | null;
  statusCodeClass?: StatusCodeClass | null;
  since?: Date | null;
  until?: Date | null;
}

function codeRange(statusCodeClass: StatusCodeClass): Prisma.IntNullableFilter | null {
  switch (statusCodeClass) {
    case "SUCCESS_2XX":
      return { gte: 200, lt: 300 };
    case "REDIRECT_3XX":
      return { gte: 300, lt: 400 };
    case "CLIENT_ERROR_4XX":
      return { gte: 400, lt: 500 };
    case "SERVER_ERROR_5XX":
      return { gte: 500, lt: 600 };
    case "NO_RESPONSE":
      return null;
  }
}

function timeRange(filter: DeliveryFilter): Prisma.DateTimeFilter | undefined {
  if (filter.since && filter.until && filter.since >= filter.until)
    throw new ValidationError("since must be before until", "filter.since");
  if (!filter.since && !filter.until) return undefined;
  return { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lt: filter.until } : {}) };
}

/** The Prisma where-clause for the delivery log, always inside the tenant. */
export function deliveryWhere(tenantId: string, filter: DeliveryFilter = {}): Prisma.DeliveryWhereInput {
  const where: Prisma.DeliveryWhereInput = { tenantId };
  if (filter.endpointId) where.endpointId = idFilter(filter.endpointId);
  if (filter.eventId) where.eventId = idFilter(filter.eventId);
  if (filter.eventType) where.eventType = filter.eventType;
  if (filter.statuses?.length) where.status = { in: [...filter.statuses] };
  if (filter.statusCodeClass) {
    const range = codeRange(filter.statusCodeClass);
    where.lastStatusCode = range ?? null;
    if (!range) where.lastAttemptAt = { not: null };
  }
  const createdAt = timeRange(filter);
  if (createdAt) where.createdAt = createdAt;
  return where;
}

export interface AttemptFilter {
  endpointId?: string | null;
  deliveryId?: string | null;
  statusCodeClass?: StatusCodeClass | null;
  triggers?: readonly ("SCHEDULED" | "MANUAL" | "TEST")[] | null;
  since?: Date | null;
  until?: Date | null;
}

/** The Prisma where-clause for the attempt log, always inside the tenant. */
export function attemptWhere(tenantId: string, filter: AttemptFilter = {}): Prisma.DeliveryAttemptWhereInput {
  const where: Prisma.DeliveryAttemptWhereInput = { tenantId };
  if (filter.endpointId) where.endpointId = idFilter(filter.endpointId);
  if (filter.deliveryId) where.deliveryId = idFilter(filter.deliveryId);
  if (filter.triggers?.length) where.trigger = { in: [...filter.triggers] };
  if (filter.statusCodeClass) where.statusCode = codeRange(filter.statusCodeClass);
  const createdAt = timeRange(filter);
  if (createdAt) where.createdAt = createdAt;
  return where;
}
