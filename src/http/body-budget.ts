import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Admission for large request bodies. A 25 MB publishEvents batch takes over 100 MB of heap while it is parsed,
 * validated and written; eight at once exhausted `npm start`'s 512 MB heap and killed the process (measured). Bodies
 * up to `smallBytes` pass freely; larger ones share `budgetBytes`, and one that does not fit is answered 503 with
 * Retry-After at once, its body discarded as it arrives. A chunked body (no Content-Length) counts as `unknownBytes`.
 */
export class BodyBudget {
  private inFlightBytes = 0;

  constructor(private readonly options: { budgetBytes: number; smallBytes: number; unknownBytes: number }) {}

  /** Admits the request (held until its response closes), or answers 503 and returns false. */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    const declared = req.headers["content-length"];
    const bytes = declared === undefined ? this.options.unknownBytes : Number(declared);
    if (!Number.isFinite(bytes) || bytes <= this.options.smallBytes) return true;
    if (this.inFlightBytes + bytes > this.options.budgetBytes) {
      const body = JSON.stringify({
        errors: [
          {
            message: "too many large requests at once; retry in a moment",
            extensions: { code: "SERVER_BUSY", retryAfterSeconds: 1 },
          },
        ],
      });
      res.writeHead(503, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
        "retry-after": "1",
      });
      res.end(body);
      // Read and drop the body as it arrives (nothing is kept): a client still sending it would otherwise see a reset
      // connection instead of this answer.
      req.resume();
      return false;
    }
    this.inFlightBytes += bytes;
    res.once("close", () => {
      this.inFlightBytes -= bytes;
    });
    return true;
  }
}
