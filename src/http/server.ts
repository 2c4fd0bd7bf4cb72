import http from "node:http";
import type { AddressInfo } from "node:net";
import { type ExecutionArgs, GraphQLError } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { YogaServerInstance } from "graphql-yoga";
import { type WebSocket, WebSocketServer } from "ws";
import { isDatabaseUnavailable, UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER_SECONDS } from "../db/unavailable.js";
import type { GraphQLContext } from "../graphql/context.js";
import type { JobQueue } from "../jobs/kit/queue.js";
import type { CidrRange } from "../lib/cidr.js";
import { OperatorError } from "../lib/errors.js";
import { sendJson, sendJsonError } from "../lib/json-response.js";
import { JsonShapeError, measureJson, ONE_MEGABYTE_JSON_LIMITS } from "../lib/json-shape.js";
import { countSubscriptions } from "../lib/metrics.js";
import { requestIdFrom, runAsRequest } from "../lib/request-context.js";
import type { Logger } from "../logger.js";
import { type Accept, createAcceptance } from "../modules/agents/acceptance.js";
import { type AgentSecretCache, handleAgentWebhook } from "../modules/agents/inbound.js";
import {
  AuthenticationError,
  type Authenticator,
  tokenFromConnectionParams,
  tokenFromHeaders,
} from "../modules/auth/authenticate.js";
import { BodyBudget } from "./body-budget.js";
import { originOf, rememberOrigin, TrustedProxies } from "./client-address.js";
import { ConnectionGuard, DEFAULT_SOCKET_LIMITS, HTTP_TIMEOUTS, type SocketLimits } from "./connection-guard.js";
import { serveConsole } from "./console-static.js";
import { answerReadiness, type ReadinessCheck } from "./readiness.js";
import {
  authenticationFailure,
  clientIp,
  MAX_ANONYMOUS_GRAPHQL_BODY_BYTES,
  MAX_GRAPHQL_BODY_BYTES,
  type ServerContext,
} from "./yoga.js";

/** Operations (subscriptions) one WebSocket connection may run at once. */
export const MAX_OPERATIONS_PER_CONNECTION = 50;
const KEEP_ALIVE_MS = 12_000;

/**
 * The largest WebSocket message of an authenticated connection. HTTP admits bodies up to 1 MB without the shared
 * large-body budget (BodyBudget); a WebSocket has no such budget, and our clients send only subscriptions over it,
 * so it stops there. A larger frame closes the socket with 1009 (Message Too Big) before it is buffered.
 */
export const MAX_WEBSOCKET_MESSAGE_BYTES = 1024 * 1024;
/**
 * Until `connection_init` is acknowledged, and for the whole life of a connection without a credential: the same
 * as an HTTP body without a credential. Three 80 MB `connection_init` frames used to exhaust the heap.
 */
export const MAX_ANONYMOUS_WEBSOCKET_MESSAGE_BYTES = MAX_ANONYMOUS_GRAPHQL_BODY_BYTES;
/** A connection that has not sent `connection_init` by then is closed (4408). */
export const CONNECTION_INIT_TIMEOUT_MS = 3_000;

/** The close code for a connection refused for the server's or its credential's socket cap: clients retry it. */
export const TOO_MANY_SOCKETS_CLOSE_CODE = 1013;

/**
 * Checks each WebSocket message's structure before graphql-ws parses it, with the limits of a 1 MB JSON body
 * (src/lib/json-shape.ts): a 1 MB frame of `[[],...]` would take 13 MB of heap parsed. Wraps `emit` because ws hands
 * a message to every listener and graphql-ws adds its own; a message over the limits reaches none of them, and the
 * socket is closed with 4400 (graphql-ws's Bad Request) and the reason.
 */
function checkMessageShapes(socket: WebSocket): void {
  const emit = socket.emit.bind(socket);
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === "message") {
      const data = args[0];
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data as ArrayBuffer);
      try {
        measureJson(bytes, ONE_MEGABYTE_JSON_LIMITS);
      } catch (error) {
        if (!(error instanceof JsonShapeError)) throw error;
        socket.close(4400, `${error.code}: ${error.message}`.slice(0, 120));
        return false;
      }
    }
    return emit(event, ...args);
  }) as typeof socket.emit;
}

/**
 * Sets one socket's message limit. `ws` takes one `maxPayload` for the whole server; each socket's receiver keeps
 * its own copy and reads it at every frame header (ws 8), so a socket can start low and be raised once it is
 * authenticated. tests/hostile/websocket-limits.test.ts checks both directions.
 */
function setMessageLimit(socket: WebSocket, bytes: number): void {
  const receiver = (socket as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (receiver && typeof receiver._maxPayload === "number") receiver._maxPayload = bytes;
}

/**
 * Replaces graphql-ws's per-socket error listener, which writes "Internal error emitted on a WebSocket socket" and
 * the stack to stderr with console.error (no option or hook reaches it), with one JSON log line. Runs right after
 * the "connection" event, once graphql-ws has added its listener. The errors `ws` raises for a client's bad frame
 * (WS_ERR_*, such as a message over the size limit) are the client's mistake: ws has already closed the socket with
 * the matching code (1009 for a message too big), so they are logged at debug. Anything else is ours: warn, and
 * close with 1011 as graphql-ws would.
 */
function logSocketErrors(socket: WebSocket, logger: Logger): void {
  socket.removeAllListeners("error");
  socket.on("error", (error: Error & { code?: string }) => {
    if (error.code?.startsWith("WS_ERR_")) {
      logger.debug({ code: error.code, reason: error.message }, "WebSocket frame refused; connection closed");
      return;
    }
    logger.warn({ err: error }, "WebSocket error; connection closed");
    socket.close(1011, "Internal server error");
  });
}

/** Raised when the port is taken, so the CLI can say so in one line. */
export class PortInUseError extends OperatorError {
  constructor(readonly port: number) {
    super(`port ${port} is already in use: stop the other process or set PORT to a free port`);
  }
}

export type { ReadinessCheck } from "./readiness.js";

/**
 * Sent on every HTTP response: no MIME sniffing, no framing by other sites (the console and GraphiQL hold a key), no
 * URLs (which may carry ids) leaked as referrers. No script policy: GraphiQL's page is one inline script.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
};
/** A year, as HSTS preload lists ask; sent only when the public URL is https (a browser ignores it over http). */
const HSTS = "max-age=31536000";

/** A temporary redirect (302), so that `/` can point elsewhere later without browsers remembering it. */
function redirect(res: http.ServerResponse, location: string): void {
  res.writeHead(302, { location, "content-length": "0" });
  res.end();
}

export interface HttpServerOptions {
  port: number;
  host: string;
  yoga: YogaServerInstance<ServerContext, GraphQLContext>;
  readiness: () => Promise<ReadinessCheck[]>;
  /** False once the process cannot recover (it is about to exit); /healthz then answers 503. Default: alive. */
  liveness?: () => boolean;
  logger: Logger;
  /** The app context's authenticator: the GraphQL context's, also asked before large bodies and at WebSocket connect. */
  authenticator: Pick<Authenticator, "authenticate">;
  /** Agents' secrets, opened with the instance's keyring, to verify inbound webhooks. */
  agentSecrets: AgentSecretCache;
  /** The app context's job queue, which accepted inbound webhooks are queued on; without one they cannot be accepted. */
  jobs?: Pick<JobQueue, "boss">;
  /** Caps of open connections, and of WebSockets per credential (the configuration's; defaults for tests). */
  limits?: Partial<SocketLimits>;
  /** SIGNALPOST_TRUSTED_PROXIES: whose forwarding headers name the client (see client-address.ts). None by default. */
  trustedProxies?: readonly CidrRange[];
  /** The instance's public URL, read per request: an https one turns on HSTS and the redirect of plain http. */
  publicUrl?: () => string;
}

/** The executable arguments Yoga's envelop builds per WebSocket operation, carried to execute/subscribe. */
interface EnvelopedArgs extends ExecutionArgs {
  rootValue: { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };
}

/**
 * The API role's listener: plain HTTP routes (health), GraphQL over HTTP through Yoga, and graphql-ws on the same
 * port and path. Tracks in-flight requests so that shutdown can let them finish.
 */
export class HttpServer {
  private readonly server: http.Server;
  private readonly webSockets: WebSocketServer;
  private inFlight = 0;
  private readonly wsContexts = new Set<{ subscriptions: Record<string, unknown> }>();
  private readonly uncount = countSubscriptions(() => {
    let open = 0;
    for (const ctx of this.wsContexts) open += Object.keys(ctx.subscriptions).length;
    return open;
  });
  private draining = false;
  /**
   * Large GraphQL bodies in flight as bytes (see BodyBudget): one full 25 MB batch and smaller ones. Their parsed
   * heap is the yoga HeapBudget's; this bounds the raw bodies read while they wait for it (each is held twice as it
   * is read, in chunks and then whole). With two full batches in flight at once, `npm start`'s peak RSS measured
   * 664 MB; with one, under the 600 MB promised (tests/hostile/peak-load.test.ts).
   */
  private readonly largeBodies = new BodyBudget({
    budgetBytes: 32 * 1024 * 1024,
    smallBytes: 1024 * 1024,
    unknownBytes: MAX_GRAPHQL_BODY_BYTES,
  });

  /** Stores and queues accepted inbound webhooks (group-committed per process). */
  private readonly accept: Accept;
  private readonly limits: SocketLimits;
  private readonly guard: ConnectionGuard;
  /** Open authenticated WebSockets per credential (see SocketLimits.maxWebSocketsPerCredential). */
  private readonly socketsPerCredential = new Map<string, number>();
  private readonly proxies: TrustedProxies;

  constructor(private readonly options: HttpServerOptions) {
    this.accept = options.jobs
      ? createAcceptance(options.jobs.boss)
      : async () => {
          throw new Error("the job queue is not started");
        };
    this.limits = { ...DEFAULT_SOCKET_LIMITS, ...options.limits };
    this.proxies = new TrustedProxies(options.trustedProxies);
    this.guard = new ConnectionGuard(this.limits, options.logger, (address) => this.proxies.trusts(address));
    this.server = http.createServer({ ...HTTP_TIMEOUTS }, (req, res) => this.route(req, res));
    this.server.keepAliveTimeout = HTTP_TIMEOUTS.keepAliveTimeout;
    this.server.on("connection", (socket) => this.guard.onConnection(socket));
    // noServer: we route upgrades ourselves, so the WebSocket server never re-emits listen errors (such as a port
    // in use) as its own, and upgrades to other paths are refused cleanly.
    this.webSockets = new WebSocketServer({ noServer: true, maxPayload: MAX_WEBSOCKET_MESSAGE_BYTES });
    this.server.on("upgrade", (req, socket, head) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== options.yoga.graphqlEndpoint || this.draining) {
        socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        return;
      }
      rememberOrigin(req, this.proxies.originOf(req));
      this.webSockets.handleUpgrade(req, socket, head, (ws) => {
        setMessageLimit(ws, MAX_ANONYMOUS_WEBSOCKET_MESSAGE_BYTES);
        checkMessageShapes(ws);
        ws.once("close", (code, reason) =>
          options.logger.debug({ code, reason: reason.toString() }, "WebSocket closed"),
        );
        this.webSockets.emit("connection", ws, req);
        logSocketErrors(ws, options.logger);
      });
    });
    this.attachGraphQLWebSocket();
  }

  /** Listens; resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) =>
        reject(error.code === "EADDRINUSE" ? new PortInUseError(this.options.port) : error);
      this.server.once("error", onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off("error", onError);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Stops accepting, closes WebSockets (1001 going away), lets in-flight requests finish until the deadline, then
   * cuts whatever is left.
   */
  async close(deadline: number): Promise<void> {
    this.draining = true;
    this.uncount();
    this.guard.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.webSockets.clients) socket.close(1001, "server shutting down");
    this.webSockets.close();
    this.server.closeIdleConnections();
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    if (this.inFlight > 0)
      this.options.logger.warn({ inFlight: this.inFlight }, "cutting requests still running at the shutdown deadline");
    this.server.closeAllConnections();
    for (const socket of this.webSockets.clients) socket.terminate();
    await closed;
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.guard.watch(req, res);
    this.inFlight += 1;
    res.once("close", () => {
      this.inFlight -= 1;
    });
    // Ask keep-alive clients to reconnect elsewhere while we drain.
    if (this.draining) res.setHeader("connection", "close");
    const path = (req.url ?? "/").split("?")[0];
    const origin = this.proxies.originOf(req);
    rememberOrigin(req, origin);
    const requestId = requestIdFrom(req.headers["x-request-id"]);
    res.setHeader("x-request-id", requestId);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const publicUrl = this.options.publicUrl?.();
    if (publicUrl?.startsWith("https://")) {
      res.setHeader("strict-transport-security", HSTS);
      // A trusted proxy says the client came over plain http: send it to the https address (308 keeps the method
      // and body). Health checks are answered where they are asked; direct connections cannot be told apart.
      if (origin.protocol === "http" && path !== "/healthz" && path !== "/readyz") {
        res.writeHead(308, { location: `${publicUrl}${req.url ?? "/"}`, "content-length": "0" });
        res.end();
        return;
      }
    }
    const handle = async () => {
      // The address a newcomer opens first: the web console.
      if (path === "/" && (req.method === "GET" || req.method === "HEAD")) return redirect(res, "/console");
      if (path === "/healthz" && req.method === "GET") return this.health(res);
      if (path === "/readyz" && req.method === "GET") return this.ready(res);
      if (path === this.options.yoga.graphqlEndpoint) {
        if (!(await this.credentialForLargeBody(req, res))) return;
        // A client that went away while its key was checked: its response has already closed, so admitting it now
        // would take a share of the large-body budget that no "close" event ever gives back.
        if (req.socket.destroyed) return;
        if (!this.largeBodies.admit(req, res)) return;
        return this.options.yoga(req, res, { req });
      }
      if (path === "/console" || path?.startsWith("/console/")) return serveConsole(req, res, path.slice(8));
      const agentWebhook = /^\/agents\/([^/]+)\/webhook$/.exec(path ?? "");
      if (agentWebhook?.[1]) {
        const { logger, agentSecrets } = this.options;
        return handleAgentWebhook(req, res, agentWebhook[1], {
          logger,
          agentSecrets,
          accept: this.accept,
          sourceIp: origin.ip,
        });
      }
      return sendJsonError(res, 404, { code: "NOT_FOUND", message: `No route for ${req.method} ${path}` });
    };
    const handled = () =>
      handle().catch((error: unknown) => {
        // A database outage (inbound webhooks while it restarts, say) is the caller's cue to retry, not our bug.
        if (isDatabaseUnavailable(error) && !res.headersSent) {
          this.options.logger.warn({ path }, "database unavailable; answered 503");
          return sendJsonError(
            res,
            503,
            { code: "SERVICE_UNAVAILABLE", message: UNAVAILABLE_MESSAGE },
            { "retry-after": String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
          );
        }
        this.options.logger.error({ err: error, path }, "unhandled error in HTTP route");
        if (!res.headersSent) sendJsonError(res, 500, { code: "INTERNAL", message: "Internal server error" });
        else res.destroy();
      });
    // Everything the request runs, logs and writes carries its id (lib/request-context.ts).
    void runAsRequest(requestId, handled);
  }

  /**
   * A body larger than an anonymous one may carry needs a credential that authenticates, checked before the body is
   * read: Yoga parses the JSON before its context authenticates, and JSON such as `[[],[],...]` takes over ten times
   * its size in heap, so a made-up `Authorization` header must not buy the 30 MB limit. Small bodies pass here (the
   * body limit and the context deal with them). A refusal is the typed 401/429 the context would answer.
   */
  private async credentialForLargeBody(req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) <= MAX_ANONYMOUS_GRAPHQL_BODY_BYTES) return true;
    const token = tokenFromHeaders(
      new Headers({
        authorization: String(req.headers.authorization ?? ""),
        "x-api-key": String(req.headers["x-api-key"] ?? ""),
      }),
    );
    if (token === null) return true;
    try {
      await this.options.authenticator.authenticate(token, clientIp(req));
      return true;
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      const refusal = authenticationFailure(error);
      const { http: httpExtension, ...extensions } = refusal.extensions as {
        http: { status: number; headers: Record<string, string> };
      };
      const body = JSON.stringify({ errors: [{ message: refusal.message, extensions }] });
      res.writeHead(httpExtension.status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
        ...httpExtension.headers,
      });
      res.end(body);
      // Read and drop the body as it arrives: nothing of it is kept.
      req.resume();
      return false;
    }
  }

  /** Alive unless shutting down or past recovery: a supervisor watching /healthz must see a process that is ending. */
  private health(res: http.ServerResponse): void {
    if (this.draining) sendJson(res, 503, { status: "stopping" });
    else if (this.options.liveness && !this.options.liveness()) sendJson(res, 503, { status: "failed" });
    else sendJson(res, 200, { status: "ok" });
  }

  private async ready(res: http.ServerResponse): Promise<void> {
    const checks: ReadinessCheck[] = this.draining
      ? [{ name: "accepting", ok: false, code: "SHUTTING_DOWN" }]
      : await this.options.readiness();
    const ok = checks.every((check) => check.ok);
    // Names and codes only: anyone may ask, and a driver's error text names hosts, users and databases.
    sendJson(res, ok ? 200 : 503, {
      status: ok ? "ready" : "not_ready",
      checks: answerReadiness(checks, this.options.logger),
    });
  }

  /**
   * Counts an authenticated socket against its credential's cap until it closes, or closes it (1013, Try Again
   * Later: graphql-ws clients retry it) when the credential already holds as many as allowed.
   */
  private holdCredentialSocket(credential: string, socket: WebSocket): boolean {
    const held = this.socketsPerCredential.get(credential) ?? 0;
    const limit = this.limits.maxWebSocketsPerCredential;
    if (held >= limit) {
      socket.close(TOO_MANY_SOCKETS_CLOSE_CODE, `TOO_MANY_WEBSOCKETS: this credential has ${limit} open, its limit`);
      return false;
    }
    this.socketsPerCredential.set(credential, held + 1);
    socket.once("close", () => {
      const left = (this.socketsPerCredential.get(credential) ?? 1) - 1;
      if (left > 0) this.socketsPerCredential.set(credential, left);
      else this.socketsPerCredential.delete(credential);
    });
    return true;
  }

  private attachGraphQLWebSocket(): void {
    const { yoga } = this.options;
    useServer(
      {
        connectionInitWaitTimeout: CONNECTION_INIT_TIMEOUT_MS,
        execute: (args) => (args as EnvelopedArgs).rootValue.execute(args) as never,
        subscribe: (args) => (args as EnvelopedArgs).rootValue.subscribe(args) as never,
        // A bad token closes the connection at once with 4401 (4429 when the address is rate limited), instead of
        // failing every later operation; anonymous connections may use public fields only.
        onConnect: async (ctx) => {
          // Counted for the open-subscriptions gauge until the socket closes.
          this.wsContexts.add(ctx);
          ctx.extra.socket.once("close", () => this.wsContexts.delete(ctx));
          try {
            const viewer = await this.options.authenticator.authenticate(
              tokenFromConnectionParams(ctx.connectionParams),
              originOf(ctx.extra.request).ip,
            );
            if (viewer) {
              if (!this.holdCredentialSocket(viewer.apiKeyId ?? viewer.actorId, ctx.extra.socket)) return false;
              setMessageLimit(ctx.extra.socket, MAX_WEBSOCKET_MESSAGE_BYTES);
            }
            return true;
          } catch (error) {
            if (!(error instanceof AuthenticationError)) throw error;
            ctx.extra.socket.close(error.code === "RATE_LIMITED" ? 4429 : 4401, error.message);
            return false;
          }
        },
        // Each operation authenticates again through the shared context factory, so a key revoked after the
        // connection opened cannot start new subscriptions.
        onSubscribe: async (ctx, _id, payload) => {
          // A bound per connection, so one client cannot hold unbounded listeners and database reads.
          // graphql-ws has already registered this one (as null) when the hook runs, so it is counted in.
          if (Object.keys(ctx.subscriptions).length > MAX_OPERATIONS_PER_CONNECTION) {
            return [
              new GraphQLError(`at most ${MAX_OPERATIONS_PER_CONNECTION} operations at once on one connection`, {
                extensions: { code: "TOO_MANY_SUBSCRIPTIONS" },
              }),
            ];
          }
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params: payload,
            connectionParams: ctx.connectionParams,
          });
          let document: ExecutionArgs["document"];
          try {
            document = parse(payload.query);
          } catch (error) {
            if (error instanceof GraphQLError) return [error];
            throw error;
          }
          const errors = validate(schema, document);
          if (errors.length) return errors;
          let contextValue: unknown;
          try {
            contextValue = await contextFactory();
          } catch (error) {
            if (error instanceof GraphQLError) return [error];
            throw error;
          }
          const args: EnvelopedArgs = {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue,
            rootValue: { execute, subscribe },
          };
          return args;
        },
      },
      this.webSockets,
      // Pings every 12 s and drops a connection whose pong does not come back, so dead clients free their
      // subscriptions.
      KEEP_ALIVE_MS,
    );
  }
}
