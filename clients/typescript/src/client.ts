import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { createClient as createWebSocketClient } from "graphql-ws";

/**
 * A small Signalpost client: GraphQL over HTTP with fetch, subscriptions over graphql-ws that reconnect with backoff
 * and resume from the last cursor they saw. Use it with the typed documents in ../generated (one per operation).
 */

export interface SignalpostClientOptions {
  /** The server's base URL, e.g. http://localhost:4000 (GraphQL is at /graphql, WebSocket on the same path). */
  url: string;
  /** An API key (sp_...) or a session JWT. */
  token: string;
  fetch?: typeof fetch;
  /** A WebSocket implementation where there is no global one (Node 20: `import WebSocket from "ws"`). */
  webSocketImpl?: unknown;
}

/** A GraphQL error the server returned at the top level (authentication, scopes, invalid documents). */
export class SignalpostError extends Error {
  constructor(
    message: string,
    /** FORBIDDEN, UNAUTHENTICATED, RATE_LIMITED, VALIDATION_FAILED, ... or HTTP_<status>. */
    readonly code: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = "SignalpostError";
  }
}

export type ConnectionStatus = "connecting" | "live" | "reconnecting" | "closed";

export interface LiveOptions<Data> {
  /**
   * How to resume: the variable to set (`after`) and where the cursor is in each result. After a reconnect the
   * subscription is made again with the last cursor seen, so nothing is missed and nothing comes twice.
   */
  resume?: { variable: string; cursorOf: (data: Data) => string | null | undefined };
  onStatus?: (status: ConnectionStatus) => void;
  /** Backoff between reconnects: doubles from `initialDelayMs` up to `maxDelayMs`, with jitter. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  signal?: AbortSignal;
}

/** Close codes after which trying again cannot help: bad credentials, forbidden, bad request. */
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4406, 4409]);

interface GraphQLErrorLike {
  message: string;
  extensions?: { code?: string; field?: string };
}

function toError(errors: readonly GraphQLErrorLike[]): SignalpostError {
  const [first] = errors;
  return new SignalpostError(
    first?.message ?? "GraphQL error",
    first?.extensions?.code ?? "GRAPHQL_ERROR",
    first?.extensions?.field ?? null,
  );
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

export function createSignalpostClient(options: SignalpostClientOptions) {
  const base = options.url.replace(/\/+$/, "");
  const httpUrl = `${base}/graphql`;
  const wsUrl = httpUrl.replace(/^http/, "ws");
  const doFetch = options.fetch ?? fetch;
  const authorization = `Bearer ${options.token}`;

  /** Runs a query or mutation; resolves with its data. @throws SignalpostError on HTTP or top-level errors. */
  async function request<Data, Variables extends Record<string, unknown>>(
    document: TypedDocumentNode<Data, Variables>,
    ...[variables]: Variables extends Record<string, never> ? [Variables?] : [Variables]
  ): Promise<Data> {
    let response: Response;
    try {
      response = await doFetch(httpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/graphql-response+json", authorization },
        body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new SignalpostError(
        `cannot reach ${httpUrl}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
        "NETWORK",
      );
    }
    const text = await response.text();
    let body: { data?: Data | null; errors?: GraphQLErrorLike[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new SignalpostError(`HTTP ${response.status}: ${text.slice(0, 200)}`, `HTTP_${response.status}`);
    }
    if (body.errors?.length) throw toError(body.errors);
    if (!response.ok || body.data == null)
      throw new SignalpostError(`HTTP ${response.status}`, `HTTP_${response.status}`);
    return body.data;
  }

  /**
   * A subscription that survives network loss: on a dropped connection it reconnects with backoff and, with
   * `resume`, subscribes again from the last cursor seen. Ends when the server completes it, on `signal`, or
   * with a SignalpostError for errors that retrying cannot fix (bad token, missing scope, bad arguments).
   */
  async function* live<Data, Variables extends Record<string, unknown>>(
    document: TypedDocumentNode<Data, Variables>,
    variables: Variables,
    liveOptions: LiveOptions<Data> = {},
  ): AsyncGenerator<Data> {
    const { resume, onStatus, signal } = liveOptions;
    const initialDelay = liveOptions.retry?.initialDelayMs ?? 500;
    const maxDelay = liveOptions.retry?.maxDelayMs ?? 15_000;
    const maxAttempts = liveOptions.retry?.maxAttempts ?? Number.POSITIVE_INFINITY;
    let current: Record<string, unknown> = { ...variables };
    let failures = 0;
    onStatus?.("connecting");
    while (!signal?.aborted) {
      const socket = createWebSocketClient({
        url: wsUrl,
        webSocketImpl: options.webSocketImpl,
        connectionParams: { authorization },
        // Our loop retries, with the latest cursor; graphql-ws's own retry would re-send the first variables.
        retryAttempts: 0,
        lazy: true,
        on: {
          connected: () => {
            failures = 0;
            onStatus?.("live");
          },
        },
      });
      const stop = () => void socket.dispose();
      signal?.addEventListener("abort", stop);
      try {
        const results = socket.iterate<Data>({ query: print(document), variables: current });
        for await (const result of results) {
          if (result.errors?.length) throw toError(result.errors as GraphQLErrorLike[]);
          const data = result.data as Data;
          const cursor = resume?.cursorOf(data);
          if (resume && cursor) current = { ...current, [resume.variable]: cursor };
          yield data;
        }
        if (!signal?.aborted) onStatus?.("closed");
        return;
      } catch (error) {
        if (signal?.aborted) break;
        if (error instanceof SignalpostError) throw error;
        // GraphQL errors of the operation arrive as an array: not a network problem, so not retried.
        if (Array.isArray(error)) throw toError(error as GraphQLErrorLike[]);
        const code = (error as { code?: number }).code;
        if (typeof code === "number" && FATAL_CLOSE_CODES.has(code)) {
          throw new SignalpostError((error as { reason?: string }).reason || `closed with ${code}`, `CLOSE_${code}`);
        }
        failures += 1;
        if (failures > maxAttempts) throw new SignalpostError("could not reconnect", "RECONNECT_FAILED");
        onStatus?.("reconnecting");
        const delay = Math.min(maxDelay, initialDelay * 2 ** (failures - 1));
        await sleep(delay * (0.8 + Math.random() * 0.4), signal);
      } finally {
        signal?.removeEventListener("abort", stop);
        await socket.dispose();
      }
    }
    onStatus?.("closed");
  }

  return { request, live, httpUrl, wsUrl };
}

export type SignalpostClient = ReturnType<typeof createSignalpostClient>;
