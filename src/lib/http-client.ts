import { promises as dns, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import { Agent, request } from "undici";
import { type AddressPolicy, isAddressAllowed } from "./address-guard.js";

/** Why an attempt got no 2xx. */
export type OutboundErrorClass =
  | "timeout"
  | "dns"
  | "connection_refused"
  | "tls"
  | "blocked_address"
  | "http_status"
  | "network";

export interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: string | Buffer;
  /** The whole budget: connecting, waiting for headers and reading the body. */
  timeoutMs: number;
  /** Default true; false accepts any certificate (the endpoint is flagged wherever it is shown). */
  verifyTls?: boolean;
}

export interface OutboundResult {
  /** A 2xx answer. */
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  responseHeaders: Record<string, string>;
  /** At most RESPONSE_BODY_LIMIT bytes, decoded as UTF-8. */
  responseBody: string;
  responseBodyTruncated: boolean;
  error: null | { class: OutboundErrorClass; message: string };
}

export interface OutboundClient {
  post(request: OutboundRequest): Promise<OutboundResult>;
  close(): Promise<void>;
}

export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const RESPONSE_BODY_LIMIT = 16 * 1024;
const MAX_CONNECT_TIMEOUT_MS = 10_000;

/** Raised by the guarded lookup; carries its own code so it is classified as blocked_address. */
class BlockedAddressError extends Error {
  readonly code = "ERR_BLOCKED_ADDRESS";
}

const defaultResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

type LookupCallback = (error: Error | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls.connect that resolves the name once, refuses the connection if any resolved address is not
 * allowed, and hands the socket exactly the checked addresses: a second resolution (DNS rebinding) never happens.
 */
function guardedLookup(policy: () => AddressPolicy, resolve: Resolver) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback) => {
    resolve(hostname)
      .then((addresses) => {
        if (addresses.length === 0) throw Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" });
        for (const { address } of addresses) {
          const verdict = isAddressAllowed(address, policy());
          if (!verdict.allowed) throw new BlockedAddressError(`${hostname} resolves to ${verdict.reason}`);
        }
        if (options.all)
          callback(
            null,
            addresses.map(({ address, family }) => ({ address, family })),
          );
        else callback(null, addresses[0]?.address ?? "", addresses[0]?.family);
      })
      .catch((error: Error) => callback(error, ""));
  };
}

function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  let current = error as { code?: unknown; cause?: unknown; name?: unknown } | undefined;
  for (let depth = 0; current && depth < 5; depth += 1) {
    if (typeof current.code === "string") codes.push(current.code);
    if (typeof current.name === "string") codes.push(current.name);
    current = current.cause as typeof current;
  }
  return codes;
}

/** Maps a thrown network error to the attempt log's error class. */
export function classifyError(error: unknown): OutboundErrorClass {
  const codes = codesOf(error);
  const has = (predicate: (code: string) => boolean) => codes.some(predicate);
  if (has((code) => code === "ERR_BLOCKED_ADDRESS")) return "blocked_address";
  if (has((code) => /TIMEOUT|TimeoutError|AbortError/i.test(code))) return "timeout";
  if (has((code) => code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME" || code === "ENODATA"))
    return "dns";
  if (has((code) => code === "ECONNREFUSED")) return "connection_refused";
  if (has((code) => /^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_OSSL)/.test(code))) return "tls";
  return "network";
}

function messageOf(error: unknown): string {
  let current = error as { message?: string; cause?: unknown } | undefined;
  let message = "";
  for (let depth = 0; current && depth < 3; depth += 1) {
    if (current.message && !message.includes(current.message))
      message = message ? `${message}: ${current.message}` : current.message;
    current = current.cause as typeof current;
  }
  return message || String(error);
}

/** Reads at most `limit` bytes of a body and abandons the rest (a huge answer must not fill memory). */
async function readLimited(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body) {
    const room = limit - size;
    if (chunk.length >= room) {
      chunks.push(chunk.subarray(0, room));
      size += room;
      truncated = chunk.length > room;
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  if (truncated || size >= limit) {
    truncated = true;
    body.destroy();
  }
  return { text: Buffer.concat(chunks).toString("utf8"), truncated };
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  return flat;
}

/**
 * The shared outbound HTTP client: pooled keep-alive connections (one pool per origin), a guarded DNS lookup at every
 * connect, literal addresses checked before connecting, a total time budget per request, no redirects followed, and
 * the response body capped at 16 KB. It never throws for the receiver's failures: the result says what happened.
 */
export function createOutboundClient(options: {
  policy: AddressPolicy | (() => AddressPolicy);
  lookup?: Resolver;
  maxConnectionsPerOrigin?: number;
}): OutboundClient {
  const policy = typeof options.policy === "function" ? options.policy : () => options.policy as AddressPolicy;
  const lookup = guardedLookup(policy, options.lookup ?? defaultResolver);
  const agentFor = (rejectUnauthorized: boolean) =>
    new Agent({
      connections: options.maxConnectionsPerOrigin ?? 32,
      keepAliveTimeout: 30_000,
      connect: { lookup, rejectUnauthorized, timeout: MAX_CONNECT_TIMEOUT_MS },
    });
  const verifying = agentFor(true);
  const permissive = agentFor(false);

  return {
    async post(outbound) {
      const started = performance.now();
      const elapsed = () => performance.now() - started;
      const failed = (error: unknown, statusCode: number | null = null): OutboundResult => ({
        ok: false,
        statusCode,
        durationMs: elapsed(),
        responseHeaders: {},
        responseBody: "",
        responseBodyTruncated: false,
        error: { class: classifyError(error), message: messageOf(error) },
      });
      let url: URL;
      try {
        url = new URL(outbound.url);
      } catch (error) {
        return failed(error);
      }
      // Literal addresses never reach the lookup, so they are checked here.
      const host = url.hostname.replace(/^\[|\]$/g, "");
      if (isIP(host)) {
        const verdict = isAddressAllowed(host, policy());
        if (!verdict.allowed) return failed(new BlockedAddressError(`refused: ${verdict.reason}`));
      }
      try {
        const response = await request(url, {
          method: "POST",
          headers: outbound.headers,
          body: outbound.body,
          dispatcher: outbound.verifyTls === false ? permissive : verifying,
          signal: AbortSignal.timeout(outbound.timeoutMs),
          headersTimeout: outbound.timeoutMs,
          bodyTimeout: outbound.timeoutMs,
        });
        const { text, truncated } = await readLimited(response.body, RESPONSE_BODY_LIMIT);
        const ok = response.statusCode >= 200 && response.statusCode < 300;
        return {
          ok,
          statusCode: response.statusCode,
          durationMs: elapsed(),
          responseHeaders: flattenHeaders(response.headers),
          responseBody: text,
          responseBodyTruncated: truncated,
          error: ok ? null : { class: "http_status", message: `HTTP ${response.statusCode}` },
        };
      } catch (error) {
        return failed(error);
      }
    },
    async close() {
      await Promise.all([verifying.close(), permissive.close()]);
    },
  };
}
