/**
 * The panel's connection to the server: GraphQL over fetch with the session token, and live subscriptions over
 * graphql-ws (the global `graphqlWs` from /console/vendor/graphql-ws.js) that reconnect and resume.
 */
const TOKEN_KEY = "signalpost.session";

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

/** Runs a query or mutation; resolves with `data`. `token` overrides the session (sign-in uses the API key). */
export async function gql(query, variables = {}, token = session.token) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({}));
  if (body.errors?.length) {
    const [first] = body.errors;
    throw new ApiError(first.message, first.extensions?.code ?? "ERROR");
  }
  if (!response.ok || !body.data) throw new ApiError(`HTTP ${response.status}`, `HTTP_${response.status}`);
  return body.data;
}

/**
 * Subscribes and keeps the subscription alive: after a dropped connection it waits (backing off up to 15 s) and
 * subscribes again with `after` set to the last cursor seen, so nothing is missed or repeated. Returns stop().
 */
export function live(query, variables, { onData, onState, cursorOf }) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  let stopped = false;
  let failures = 0;
  let client;
  let current = { ...variables };
  const connect = () => {
    if (stopped) return;
    onState(failures ? "reconnecting" : "connecting");
    client = globalThis.graphqlWs.createClient({
      url,
      connectionParams: { authorization: `Bearer ${session.token}` },
      retryAttempts: 0,
      lazy: true,
      on: {
        connected: () => {
          failures = 0;
          onState("live");
        },
      },
    });
    const retry = (error) => {
      client.dispose();
      if (stopped) return;
      // GraphQL errors (a missing scope, say) come as an array: retrying cannot fix them.
      if (Array.isArray(error)) {
        onState("offline", error[0]?.message);
        return;
      }
      failures += 1;
      onState("reconnecting");
      setTimeout(connect, Math.min(15_000, 500 * 2 ** (failures - 1)));
    };
    client.subscribe(
      { query, variables: current },
      {
        next: (result) => {
          if (!result.data) return;
          const cursor = cursorOf(result.data);
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
    client?.dispose();
    onState("offline");
  };
}
