import { prisma } from "../../db/prisma.js";
import { ValidationError } from "../../lib/errors.js";
import { type DeliveryFilter, deliveryWhere } from "./delivery-filters.js";
import { messageId, webhookBody } from "./delivery-sender.js";

export type ExportFormat = "NDJSON" | "CSV";

const COLUMNS = [
  "id",
  "messageId",
  "eventId",
  "endpointId",
  "eventType",
  "status",
  "attemptCount",
  "lastStatusCode",
  "lastError",
  "failureReason",
  "createdAt",
  "lastAttemptAt",
  "completedAt",
] as const;

export const MAX_EXPORT_ROWS = 10_000;

/** RFC 4180: quote fields with separators, quotes or line breaks; double inner quotes. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The delivery log (newest first, filtered like `deliveries`) as NDJSON or CSV with a header row. */
export async function exportDeliveries(tenantId: string, filter: DeliveryFilter, format: ExportFormat, limit: number) {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EXPORT_ROWS) {
    throw new ValidationError(`limit must be between 1 and ${MAX_EXPORT_ROWS}`, "limit");
  }
  const deliveries = await prisma.delivery.findMany({
    where: deliveryWhere(tenantId, filter),
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
    include: { event: { select: { payload: true, rawBody: true, createdAt: true } } },
  });
  const rows = deliveries.map((delivery) => ({ ...delivery, messageId: messageId(delivery.eventId) }));
  // NDJSON lines also carry the exact body that was sent, so `signalpost replay` can post them again.
  const sentBody = (row: (typeof rows)[number]) =>
    row.event.rawBody ??
    webhookBody({ eventType: row.eventType, eventCreatedAt: row.event.createdAt, payload: row.event.payload });
  const data =
    format === "NDJSON"
      ? rows
          .map((row) =>
            JSON.stringify({
              ...Object.fromEntries(COLUMNS.map((column) => [column, row[column]])),
              body: sentBody(row),
            }),
          )
          .join("\n")
      : [COLUMNS.join(","), ...rows.map((row) => COLUMNS.map((column) => csvField(row[column])).join(","))].join(
          "\r\n",
        );
  return {
    format,
    contentType: format === "NDJSON" ? "application/x-ndjson" : "text/csv",
    rowCount: rows.length,
    data: rows.length || format === "CSV" ? `${data}${format === "NDJSON" ? "\n" : "\r\n"}` : "",
  };
}
