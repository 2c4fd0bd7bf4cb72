import type { ServerResponse } from "node:http";

/** The body every plain-HTTP error carries: a stable code, a message for people, and the offending field if any. */
export interface JsonErrorBody {
  code: string;
  message: string;
  field?: string;
}

/** Writes a JSON response. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/** Writes the JSON error envelope `{ status: "error", code, message, field? }`. */
export function sendJsonError(
  res: ServerResponse,
  status: number,
  error: JsonErrorBody,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { status: "error", ...error }, headers);
}
