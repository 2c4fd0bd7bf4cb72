import { request } from "undici";

/** Headers of the original hop (RFC 9110 hop-by-hop, plus framing) that must not be sent on as they were. */
const HOP_BY_HOP = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "upgrade",
  "expect",
]);

/** A received webhook's headers, lower-cased, without the ones that belonged to its own hop. */
export function endToEndHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (!HOP_BY_HOP.has(name.toLowerCase())) kept[name.toLowerCase()] = value;
  return kept;
}

export interface RepostResult {
  /** The answer's status, or null when there was none (see `error`). */
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** POSTs a webhook's body as it is to `url` (listen and replay): what came back and how long it took. */
export async function repost(url: string, headers: Record<string, string>, body: string): Promise<RepostResult> {
  const started = performance.now();
  try {
    const response = await request(url, { method: "POST", headers, body });
    await response.body.dump();
    return { status: response.statusCode, error: null, durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: null, error: (error as Error).message, durationMs: Math.round(performance.now() - started) };
  }
}
