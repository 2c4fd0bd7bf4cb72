import type { TestReceiver } from "./test-receiver.js";

/** One GraphQL answer over HTTP, with its status and headers, for tests that look at outages. */
export interface GraphQLAnswer<T> {
  status: number;
  retryAfter: string | null;
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** POSTs a GraphQL operation to a server on loopback; never throws on a GraphQL or HTTP error, only on no answer. */
export async function postGraphQL<T>(
  port: number,
  headers: Record<string, string>,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLAnswer<T>> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await response.json()) as { data?: T; errors?: GraphQLAnswer<T>["errors"] };
  return { status: response.status, retryAfter: response.headers.get("retry-after"), ...body };
}

/** The admin key a first start of an empty embedded database prints. */
export function printedAdminKey(stdout: string): string {
  const key = /^ {4}(sp_[0-9a-f]{32}_[A-Za-z0-9_-]{43})$/m.exec(stdout)?.[1];
  if (!key) throw new Error(`no admin key printed:\n${stdout}`);
  return key;
}

/** Registers the `load.tick` event type and an endpoint posting to the receiver that retries every second. */
export async function endpointForLoad(port: number, headers: Record<string, string>, receiver: TestReceiver) {
  const type = await postGraphQL(
    port,
    headers,
    `mutation { createEventType(input: { name: "load.tick" }) { __typename } }`,
  );
  if (type.errors) throw new Error(JSON.stringify(type.errors));
  const endpoint = await postGraphQL<{ createEndpoint: { __typename: string } }>(
    port,
    headers,
    `mutation ($url: String!) { createEndpoint(input: { name: "load", url: $url,
      retryPolicy: { delaysSeconds: [1], maxAttempts: 30 } }) { __typename ... on Error { message } } }`,
    { url: receiver.url },
  );
  if (endpoint.data?.createEndpoint.__typename !== "CreatedEndpoint") throw new Error(JSON.stringify(endpoint));
}

/**
 * Publishes `load.tick` events with a running number, one request at a time, until stopped. Only events whose publish
 * was answered with a PublishedEvent count as acknowledged; every other answer (503 during an outage) is recorded.
 */
export class LoadPublisher {
  readonly acknowledged = new Set<number>();
  readonly refusals: { status: number; code: string | undefined; retryAfter: string | null }[] = [];
  private next = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly port: () => number,
    private readonly headers: Record<string, string>,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const n = this.next++;
      try {
        const answer = await postGraphQL<{ publishEvent: { __typename: string } }>(
          this.port(),
          this.headers,
          `mutation ($n: Int!) { publishEvent(input: { eventType: "load.tick", payload: { n: $n } }) { __typename } }`,
          { n },
        );
        if (answer.data?.publishEvent?.__typename === "PublishedEvent") this.acknowledged.add(n);
        else
          this.refusals.push({
            status: answer.status,
            code: answer.errors?.[0]?.extensions?.code,
            retryAfter: answer.retryAfter,
          });
      } catch {
        // No answer at all (the server is gone): not acknowledged, try the next one.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** The `n` of every load event the receiver got, and how many times each webhook-id arrived. */
export function receivedLoad(receiver: TestReceiver): { numbers: Set<number>; idsPerNumber: Map<number, Set<string>> } {
  const numbers = new Set<number>();
  const idsPerNumber = new Map<number, Set<string>>();
  for (const request of receiver.requests) {
    const body = JSON.parse(request.body.toString("utf8")) as { type: string; data: { n: number } };
    if (body.type !== "load.tick") continue;
    numbers.add(body.data.n);
    const ids = idsPerNumber.get(body.data.n) ?? new Set<string>();
    ids.add(String(request.headers["webhook-id"]));
    idsPerNumber.set(body.data.n, ids);
  }
  return { numbers, idsPerNumber };
}
