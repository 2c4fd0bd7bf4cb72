import { prisma } from "../../db/prisma.js";
import { ValidationError } from "../../lib/errors.js";
import { toGlobalId } from "../../lib/ids.js";
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

/**
 * The most text one export returns. Rows carry their payloads (up to 256 KB each), so 10,000 rows could come to
 * gigabytes, past the heap and past the longest string V8 can make; rows are read in pages and the export stops
 * before the row that would cross this, saying so in `truncated`. Narrow the filter (`until`) to read on.
 */
export const MAX_EXPORT_BYTES = 16 * 1024 * 1024;
/** Rows read from the database at a time. */
const EXPORT_PAGE_ROWS = 500;

/** The delivery log (newest first, filtered like `deliveries`) as NDJSON or CSV with a header row. */
export async function exportDeliveries(tenantId: string, filter: DeliveryFilter, format: ExportFormat, limit: number) {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EXPORT_ROWS) {
    throw new ValidationError(`limit must be between 1 and ${MAX_EXPORT_ROWS}`, "limit");
  }
  const separator = format === "NDJSON" ? "\n" : "\r\n";
  const lines: string[] = format === "CSV" ? [COLUMNS.join(",")] : [];
  let bytes = lines[0]?.length ?? 0;
  let rowCount = 0;
  let truncated = false;
  let cursor: string | undefined;
  while (rowCount < limit && !truncated) {
    const page = await prisma.delivery.findMany({
      where: deliveryWhere(tenantId, filter),
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: Math.min(EXPORT_PAGE_ROWS, limit - rowCount),
      ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
      include: { event: { select: { payload: true, rawBody: true, createdAt: true } } },
    });
    for (const delivery of page) {
      const line = exportLine(
        {
          ...delivery,
          // The API's ids, as every other surface shows them (the rows are read by uuid above).
          id: toGlobalId("Delivery", delivery.id),
          eventId: toGlobalId("Event", delivery.eventId),
          endpointId: toGlobalId("Endpoint", delivery.endpointId),
          messageId: messageId(delivery.eventId),
        },
        format,
      );
      if (bytes + line.length + separator.length > MAX_EXPORT_BYTES) {
        truncated = true;
        break;
      }
      lines.push(line);
      bytes += line.length + separator.length;
      rowCount += 1;
    }
    if (page.length < EXPORT_PAGE_ROWS) break;
    cursor = page.at(-1)?.id;
  }
  return {
    format,
    contentType: format === "NDJSON" ? "application/x-ndjson" : "text/csv",
    rowCount,
    truncated,
    data: lines.length ? `${lines.join(separator)}${separator}` : "",
  };
}

type ExportRow = Awaited<
  ReturnType<
    typeof prisma.delivery.findMany<{
      include: { event: { select: { payload: true; rawBody: true; createdAt: true } } };
    }>
  >
>[number] & {
  messageId: string;
};

function exportLine(row: ExportRow, format: ExportFormat): string {
  if (format === "CSV") return COLUMNS.map((column) => csvField(row[column])).join(",");
  // NDJSON lines also carry the exact body that was sent, so `signalpost replay` can post them again.
  const body =
    row.event.rawBody ??
    webhookBody({ eventType: row.eventType, eventCreatedAt: row.event.createdAt, payload: row.event.payload });
  return JSON.stringify({ ...Object.fromEntries(COLUMNS.map((column) => [column, row[column]])), body });
}
