/**
 * The panel's connection to the server: GraphQL over fetch with the session token, and live subscriptions over
 * graphql-ws (the global `graphqlWs` from /console/vendor/graphql-ws.js) that reconnect and resume.
 */
const TOKEN_KEY = "signalpost.session";

/** Fired on window when the server no longer accepts the session (expired, or its API key revoked). */
export const SESSION_ENDED = "signalpost:session-ended";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** A GraphQL failure at the top level (bad or expired session, missing scope). */
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

function sessionEnded(message) {
  window.dispatchEvent(new CustomEvent(SESSION_ENDED, { detail: { message } }));
}

/**
 * Runs a query or mutation; resolves with `data`. Pass `{ token }` to authenticate with something other than the
 * session (sign-in sends the API key once); a refusal of that token is not a lost session.
 */
export async function gql(query, variables = {}, { token } = {}) {
  const bearer = token ?? session.token;
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({}));
  const first = body.errors?.[0];
  const code = first?.extensions?.code ?? (response.status === 401 ? "UNAUTHENTICATED" : `HTTP_${response.status}`);
  if (code === "UNAUTHENTICATED" && !token) sessionEnded(first?.message ?? "Your session ended");
  if (first) throw new ApiError(first.message, code);
  if (!response.ok || !body.data) throw new ApiError(`HTTP ${response.status}`, code);
  return body.data;
}

/** graphql-ws closes with 4401 when the token is refused: reconnecting with the same token cannot help. */
const UNAUTHORIZED_CLOSE = 4401;

/**
 * Subscribes and keeps the subscription alive. graphql-ws's own retry would re-send the first variables (and so
 * replay `last: 50`), so its retries are off: after a dropped connection this waits (backing off up to 15 s) and
 * subscribes again with `after` set to the last cursor seen, so nothing is missed or repeated. Returns stop().
 */
export function live(query, variables, { onData, onState, cursorOf }) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  let stopped = false;
  let failures = 0;
  let client;
  let timer;
  let current = { ...variables };
  const connect = () => {
    if (stopped) return;
    onState(failures ? "reconnecting" : "connecting");
    const attempt = globalThis.graphqlWs.createClient({
      url,
      connectionParams: { authorization: `Bearer ${session.token}` },
      retryAttempts: 0,
      on: {
        connected: () => {
          failures = 0;
          onState("live");
        },
      },
    });
    client = attempt;
    // error and complete can both arrive for one connection (and dispose() may add another): react once.
    let settled = false;
    const retry = (error) => {
      if (settled) return;
      settled = true;
      attempt.dispose();
      if (stopped) return;
      if (error?.code === UNAUTHORIZED_CLOSE) {
        onState("offline");
        sessionEnded(error.reason || "Your session ended");
        return;
      }
      // GraphQL errors (a missing scope, say) come as an array: retrying cannot fix them.
      if (Array.isArray(error)) {
        onState("offline", error[0]?.message);
        return;
      }
      failures += 1;
      onState("reconnecting");
      timer = setTimeout(connect, Math.min(15_000, 500 * 2 ** (failures - 1)));
    };
    attempt.subscribe(
      { query, variables: current },
      {
        next: (result) => {
          if (!result.data) return;
          const cursor = cursorOf(result.data);
          // Resume from here next time; `last` would replay lines already shown.
          if (cursor) current = { ...current, after: cursor, last: null };
          onData(result.data);
        },
        error: retry,
        complete: retry,
      },
    );
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    client?.dispose();
    onState("offline");
  };
}
