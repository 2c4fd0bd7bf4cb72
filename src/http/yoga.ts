import type { IncomingMessage } from "node:http";
import { GraphQLError, getOperationAST } from "graphql";
import { createYoga, type GraphiQLOptions, maskError, type Plugin, type YogaServerInstance } from "graphql-yoga";
import { isDatabaseUnavailable, UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER_SECONDS } from "../db/unavailable.js";
import type { ContextServices, GraphQLContext } from "../graphql/context.js";
import { boundedParseCaches, useOperationLimits } from "../graphql/limits.js";
import { useSharedSubscriptionExecution } from "../graphql/shared-subscription-execution.js";
import { estimatedHeapBytes, JsonShapeError, type JsonShapeLimits, measureJson } from "../lib/json-shape.js";
import { graphqlDuration } from "../lib/metrics.js";
import { logger } from "../logger.js";
import { AuthenticationError, tokenFromConnectionParams, tokenFromHeaders } from "../modules/auth/authenticate.js";
import { schema } from "../schema.js";
import { originOf } from "./client-address.js";
import { HeapBudget, HeapBudgetBusy } from "./heap-budget.js";

/**
 * What the transports hand Yoga: the Node request for HTTP, and for graphql-ws operations the upgrade request plus
 * the connection's `connectionParams` (where WebSocket clients put their token).
 */
export interface ServerContext {
  req?: IncomingMessage;
  connectionParams?: Readonly<Record<string, unknown>>;
}

/**
 * The client address: the socket's, or through SIGNALPOST_TRUSTED_PROXIES the one they forward (the HTTP server
 * resolves it once per request, see client-address.ts).
 */
export function clientIp(req: IncomingMessage | undefined): string | null {
  return req ? originOf(req).ip : null;
}

/** Turns an authentication failure into the typed GraphQL error (with the HTTP status for plain HTTP). */
export function authenticationFailure(error: AuthenticationError): GraphQLError {
  const status = error.code === "RATE_LIMITED" ? 429 : 401;
  const headers: Record<string, string> =
    error.code === "RATE_LIMITED" ? { "retry-after": String(error.retryAfterSeconds) } : {};
  return new GraphQLError(error.message, {
    extensions: {
      code: error.code,
      ...(error.code === "RATE_LIMITED" ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
      http: { status, headers },
    },
  });
}

/**
 * The GraphQL server: HTTP (GET/POST), GraphiQL, and the execution pipeline the WebSocket transport reuses through
 * `yoga.getEnveloped`, so both transports share plugins, context and error masking. `services` are the app
 * context's, which every resolver's context carries.
 */
export function createGraphQLServer(
  services: ContextServices,
  heapBudget = new HeapBudget(),
): YogaServerInstance<ServerContext, GraphQLContext> {
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: "/graphql",
    // Subscriptions in GraphiQL go over graphql-ws on the same path.
    graphiql: { subscriptionsProtocol: "WS", title: "Signalpost GraphiQL" },
    // Served from our own files (script, styles and Monaco workers inline): Yoga's default page loads them from a
    // public CDN, which a machine behind a firewall never reaches.
    renderGraphiQL: renderOfflineGraphiQL,
    landingPage: false,
    // Replaced by useBodyLimit, which does not pipe bodies of a known length through a stream.
    maxRequestBodySize: false,
    maskedErrors: { maskError: maskUnavailable },
    parserAndValidationCache: boundedParseCaches(),
    plugins: [
      // Before the body limit, whose parser (for a chunked body) hands this one a counted copy of the request.
      useMeasuredJson(heapBudget),
      useBodyLimit({ withCredential: MAX_GRAPHQL_BODY_BYTES, withoutCredential: MAX_ANONYMOUS_GRAPHQL_BODY_BYTES }),
      useOperationLimits(),
      useGraphQLMetrics(),
      useSharedSubscriptionExecution(),
    ],
    logging: {
      debug: (...args) => logger.debug({ args }, "yoga"),
      info: (...args) => logger.info({ args }, "yoga"),
      warn: (...args) => logger.warn({ args }, "yoga"),
      error: (...args) => logger.error({ args }, "yoga"),
    },
    context: async ({ req, request, connectionParams }): Promise<GraphQLContext> => {
      const ip = clientIp(req);
      // HTTP requests carry a Fetch Request; graphql-ws operations carry connectionParams instead.
      const token = request ? tokenFromHeaders(request.headers) : tokenFromConnectionParams(connectionParams);
      try {
        const viewer = await services.authenticator.authenticate(token, ip);
        return {
          services,
          viewer,
          ip,
          userAgent: req?.headers["user-agent"] ?? request?.headers.get("user-agent") ?? null,
        };
      } catch (error) {
        if (error instanceof AuthenticationError) throw authenticationFailure(error);
        throw error;
      }
    },
  });
}

let offlineGraphiQL: Promise<string> | undefined;

/**
 * The GraphiQL page from @graphql-yoga/render-graphiql. Its module is 9 MB of inlined JavaScript, so it is imported
 * on the first visit rather than at start-up, and the page (the same options every time) is rendered once.
 */
function renderOfflineGraphiQL(options?: GraphiQLOptions): Promise<string> {
  offlineGraphiQL ??= import("@graphql-yoga/render-graphiql").then(({ renderGraphiQL }) => renderGraphiQL(options));
  return offlineGraphiQL;
}

/**
 * The database being down (restarting, unreachable, a connection cut mid-query) is not a bug in the request or in
 * us: it answers SERVICE_UNAVAILABLE, HTTP 503 with Retry-After, so clients retry instead of reporting INTERNAL.
 * Everything else unexpected stays masked as before.
 */
function maskUnavailable(error: unknown, message: string, isDev?: boolean): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original && !(original instanceof GraphQLError && !original.originalError) && isDatabaseUnavailable(original)) {
    return new GraphQLError(UNAVAILABLE_MESSAGE, {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: {
        code: "SERVICE_UNAVAILABLE",
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
        http: { status: 503, headers: { "retry-after": String(UNAVAILABLE_RETRY_AFTER_SECONDS) } },
      },
    });
  }
  return maskError(error, message, isDev);
}

/** GraphQL request bodies above this are refused with 413: a full publishEvents batch is 100 events of 256 KB. */
export const MAX_GRAPHQL_BODY_BYTES = 30 * 1024 * 1024;

/**
 * GraphQL request bodies without a credential (no Authorization or X-Api-Key header) above this are refused with
 * 413: the fields open to anonymous callers take a few short arguments.
 */
export const MAX_ANONYMOUS_GRAPHQL_BODY_BYTES = 64 * 1024;

function bodyError(message: string, status: 400 | 413, code: string, extensions: Record<string, unknown> = {}) {
  return new GraphQLError(message, { extensions: { code, ...extensions, http: { status } } });
}

function tooLarge(limit: number, measured: number, withCredential: boolean): GraphQLError {
  const message = withCredential
    ? `the request body is over ${limit} bytes`
    : `without a credential the request body may be at most ${limit} bytes; send an API key for larger ones`;
  return bodyError(message, 413, "REQUEST_ENTITY_TOO_LARGE", { limit, measured, withCredential });
}

/**
 * Refuses oversized bodies with 413, with a much smaller limit for requests that carry no credential (whether the
 * credential is valid is checked later, once; a forged one gets the larger limit, and large bodies also queue for
 * the server's BodyBudget). Yoga's own limit pipes every body through a TransformStream to count it, which
 * was a sixth of a single publish's CPU in the bench (1,100 -> 1,280 publishes/s without it). Node's parser already
 * ends a body at its Content-Length, so checking that header is enough; only a chunked body (no Content-Length) is
 * counted as it streams in.
 */
function useBodyLimit(limits: { withCredential: number; withoutCredential: number }): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const withCredential = tokenFromHeaders(request.headers) !== null;
      const limit = withCredential ? limits.withCredential : limits.withoutCredential;
      const declared = request.headers.get("content-length");
      if (declared !== null) {
        if (!/^\d+$/.test(declared)) throw bodyError("Content-Length is not a number", 400, "BAD_REQUEST");
        if (Number(declared) > limit) throw tooLarge(limit, Number(declared), withCredential);
        return;
      }
      if (!requestParser || !request.body) return;
      let size = 0;
      const counted = request.body.pipeThrough(
        new fetchAPI.TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            size += chunk.byteLength;
            if (size > limit) controller.error(tooLarge(limit, size, withCredential));
            else controller.enqueue(chunk);
          },
        }),
      );
      const parse = requestParser;
      setRequestParser((original) =>
        parse(
          new fetchAPI.Request(original.url, {
            method: original.method,
            headers: original.headers,
            signal: original.signal,
            body: counted,
            // Required by the Fetch spec for a streamed request body.
            duplex: "half",
          } as RequestInit),
        ),
      );
    },
  };
}

/**
 * The structure of a GraphQL request's JSON body: deep enough for any payload (the variables wrap it in three
 * levels), and numerous enough for a full publishEvents batch of typical payloads (100 events of 256 KB of API
 * records measured 0.47 M objects and arrays and 1.4 M members), while `[[],[],...]` (8.7 M arrays in 26 MB) stops
 * at the first value over.
 */
export const GRAPHQL_JSON_LIMITS: JsonShapeLimits = { maxDepth: 64, maxContainers: 600_000, maxMembers: 1_500_000 };

function shapeError(error: JsonShapeError, field: string): GraphQLError {
  return bodyError(error.message, 400, error.code, { limit: error.limit, measured: error.measured, field });
}

/**
 * Every JSON body is measured before it is parsed (JsonShapeScanner: depth, objects and arrays, members), refused
 * with 400 JSON_TOO_DEEP / JSON_TOO_COMPLEX over a limit, and then waits for its estimated heap in the shared
 * HeapBudget: the documented maxima, several at once, queue for the heap instead of running it out. A body that
 * waited too long answers 503 SERVER_BUSY with Retry-After. The share is given back once the response is built.
 */
function useMeasuredJson(budget: HeapBudget): Plugin {
  const releases = new WeakMap<Request, () => void>();
  return {
    onRequestParse({ request: outer, requestParser, setRequestParser }) {
      if (!requestParser || outer.method !== "POST") return;
      const parse = requestParser;
      setRequestParser((request) => {
        const json = async () => {
          const text = new Uint8Array(await request.arrayBuffer());
          let estimate: number;
          try {
            estimate = estimatedHeapBytes(measureJson(text, GRAPHQL_JSON_LIMITS));
          } catch (error) {
            if (error instanceof JsonShapeError) throw shapeError(error, "body");
            throw error;
          }
          if (estimate > budget.capacityBytes) {
            throw bodyError(
              `the request's JSON would take about ${Math.ceil(estimate / 2 ** 20)} MB once parsed, over the ${Math.floor(budget.capacityBytes / 2 ** 20)} MB a request may take`,
              400,
              "JSON_TOO_COMPLEX",
              { limit: budget.capacityBytes, measured: estimate, field: "body" },
            );
          }
          // Small bodies (almost all) do not queue: their share is negligible next to the budget.
          if (estimate >= SMALL_JSON_HEAP_BYTES) {
            try {
              releases.set(outer, await budget.acquire(estimate));
            } catch (error) {
              if (!(error instanceof HeapBudgetBusy)) throw error;
              throw new GraphQLError("too many large requests at once; retry in a moment", {
                extensions: {
                  code: "SERVER_BUSY",
                  retryAfterSeconds: error.retryAfterSeconds,
                  http: { status: 503, headers: { "retry-after": String(error.retryAfterSeconds) } },
                },
              });
            }
          }
          return JSON.parse(Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString("utf8"));
        };
        // The built-in JSON parser calls request.json(); the others (GET, multipart, form) are left as they are.
        Object.defineProperty(request, "json", { value: json, configurable: true });
        return parse(request);
      });
    },
    onResponse({ request }) {
      const release = releases.get(request);
      releases.delete(request);
      // Once this turn ends: the operation's values are garbage then, so a collection the release runs frees them.
      if (release) setImmediate(release);
    },
  };
}

/** Estimated heap below which a body takes no share of the budget (a 1 MB body of typical JSON is about 3 MB). */
const SMALL_JSON_HEAP_BYTES = 4 * 1024 * 1024;

/** Times every query and mutation (HTTP and WebSocket alike) into the GraphQL duration histogram. */
function useGraphQLMetrics(): Plugin {
  return {
    onExecute({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName)?.operation ?? "unknown";
      return {
        onExecuteDone({ result }) {
          const errors = "errors" in result && Array.isArray(result.errors) && result.errors.length > 0;
          graphqlDuration.observe({ operation, errors: String(errors) }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}
