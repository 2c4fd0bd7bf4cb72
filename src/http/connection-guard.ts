import type http from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "../logger.js";

/**
 * Time limits for the HTTP server, passed to http.createServer. Node checks them every `connectionsCheckingInterval`
 * (30 s by default, which let a trickling client keep a connection for most of a minute past its limit).
 */
export const HTTP_TIMEOUTS = {
  /** From a connection's first byte to its last header. */
  headersTimeout: 10_000,
  /** A whole request, body included: a 30 MB body at the rate floor below takes 120 s. */
  requestTimeout: 120_000,
  /** A keep-alive connection with no request in flight is closed after this. */
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
} as const;

/**
 * The slowest a request body may arrive, on average from its headers, once the grace period has passed. A phone on a
 * poor network sends tens of KB a second; an upload at a few bytes a second only holds a connection and a buffer.
 */
export const MIN_BODY_BYTES_PER_SECOND = 4 * 1024;
export const BODY_RATE_GRACE_MS = 5_000;

/** A response whose written data has not drained for this long has a client that stopped reading (SSE, say). */
export const RESPONSE_STALL_MS = 30_000;

export interface ConnectionLimits {
  /** Open TCP connections of the process (HTTP and WebSocket alike). */
  maxConnections: number;
  /** Open TCP connections from one client address (IPv6 counted by /64). */
  maxConnectionsPerAddress: number;
}

export interface SocketLimits extends ConnectionLimits {
  /** Open WebSockets authenticated with one API key (sessions count as their key), or one external subject. */
  maxWebSocketsPerCredential: number;
}

/**
 * Under the 20,000 open files a process gets here (`ulimit -n`), with room for the pool, files and outbound
 * deliveries; per address, an office or a NAT's worth of browsers and integrations.
 */
export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  maxConnections: 16_000,
  maxConnectionsPerAddress: 1_000,
  maxWebSocketsPerCredential: 2_000,
};

/** IPv6 clients are counted by /64, the block one subscriber usually holds; IPv4 by address. */
export function addressGroup(address: string | undefined): string {
  if (!address) return "unknown";
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  if (!v4.includes(":")) return v4;
  const [head = ""] = v4.split("::");
  return `${head.split(":").slice(0, 4).join(":")}::/64`;
}

function refuseRaw(socket: Socket, status: string, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const lines = Object.entries({
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    connection: "close",
    ...headers,
  }).map(([name, value]) => `${name}: ${value}`);
  socket.end(`HTTP/1.1 ${status}\r\n${lines.join("\r\n")}\r\n\r\n${text}`);
}

/**
 * Guards a server against clients that hold connections without using them: caps open connections per address and
 * in all (the one over the cap is answered 503 TOO_MANY_CONNECTIONS at once), ends request bodies that arrive below
 * the rate floor (408 BODY_TOO_SLOW), and cuts responses whose client has stopped reading. One timer a second walks
 * the requests in flight: 500 trickling uploads measured well under 1 ms a walk.
 */
export class ConnectionGuard {
  private readonly perAddress = new Map<string, number>();
  private open = 0;
  private readonly uploads = new Set<{
    req: http.IncomingMessage;
    res: http.ServerResponse;
    started: number;
    from: number;
  }>();
  private readonly stalled = new Map<http.ServerResponse, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    /**
     * Peers exempt from the per-address cap: the trusted proxies, whose connections carry every client behind them
     * (the overall cap still counts them).
     */
    private readonly isTrustedProxy: (address: string) => boolean = () => false,
  ) {
    this.timer = setInterval(() => this.sweep(), 1_000);
    this.timer.unref();
  }

  /** Counts a new connection, or refuses it; attach to the server's "connection" event. */
  onConnection(socket: Socket): void {
    const group = addressGroup(socket.remoteAddress);
    const fromAddress = this.perAddress.get(group) ?? 0;
    const overall = this.open >= this.limits.maxConnections;
    const capped = !this.isTrustedProxy(socket.remoteAddress ?? "");
    if (overall || (capped && fromAddress >= this.limits.maxConnectionsPerAddress)) {
      const limit = overall ? this.limits.maxConnections : this.limits.maxConnectionsPerAddress;
      refuseRaw(
        socket,
        "503 Service Unavailable",
        {
          code: "TOO_MANY_CONNECTIONS",
          message: overall
            ? `the server has ${limit} connections open, its limit; retry in a moment`
            : `${limit} connections are open from this address, its limit; close some or retry in a moment`,
          limit,
          field: overall ? "connections" : "connectionsPerAddress",
        },
        { "retry-after": "5" },
      );
      socket.destroySoon();
      return;
    }
    this.open += 1;
    this.perAddress.set(group, fromAddress + 1);
    socket.once("close", () => {
      this.open -= 1;
      const left = (this.perAddress.get(group) ?? 1) - 1;
      if (left > 0) this.perAddress.set(group, left);
      else this.perAddress.delete(group);
    });
  }

  /** Watches a request's body rate until it has arrived, and its response for a client that stopped reading. */
  watch(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!req.complete && req.method !== "GET" && req.method !== "HEAD") {
      const upload = { req, res, started: Date.now(), from: req.socket.bytesRead };
      this.uploads.add(upload);
      const done = () => this.uploads.delete(upload);
      req.once("end", done);
      res.once("close", done);
    }
    const write = res.write.bind(res);
    res.write = ((...args: Parameters<typeof res.write>) => {
      const flushed = write(...args);
      if (!flushed && !this.stalled.has(res)) {
        this.stalled.set(res, Date.now());
        res.once("drain", () => this.stalled.delete(res));
      }
      return flushed;
    }) as typeof res.write;
    res.once("close", () => this.stalled.delete(res));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    const now = Date.now();
    for (const upload of this.uploads) {
      const elapsed = now - upload.started;
      if (elapsed < BODY_RATE_GRACE_MS) continue;
      const rate = ((upload.req.socket.bytesRead - upload.from) * 1_000) / elapsed;
      if (rate >= MIN_BODY_BYTES_PER_SECOND) continue;
      this.uploads.delete(upload);
      this.refuseSlowBody(upload.req, upload.res, Math.floor(rate));
    }
    for (const [res, since] of this.stalled) {
      if (now - since < RESPONSE_STALL_MS) continue;
      this.stalled.delete(res);
      this.logger.debug({ stalledMs: now - since }, "client stopped reading its response; connection cut");
      res.destroy();
    }
  }

  private refuseSlowBody(req: http.IncomingMessage, res: http.ServerResponse, measured: number): void {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    const body = JSON.stringify({
      code: "BODY_TOO_SLOW",
      message: `the request body arrived at ${measured} bytes/s, under the floor of ${MIN_BODY_BYTES_PER_SECOND}`,
      limit: MIN_BODY_BYTES_PER_SECOND,
      measured,
      field: "body",
    });
    res.shouldKeepAlive = false;
    res.writeHead(408, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      connection: "close",
    });
    // The rest of the body is never read: the socket ends once the answer is out.
    res.end(body, () => req.socket.destroy());
  }
}
