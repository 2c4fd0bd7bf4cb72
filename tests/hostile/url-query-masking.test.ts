import { type Client, createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { prisma } from "../../src/db/prisma.js";
import { ValidationError } from "../../src/lib/errors.js";
import { maskUrlCredentials, restoreMaskedQueryValues } from "../../src/lib/url-credentials.js";
import { recordConsoleEvent } from "../../src/modules/console/console-events.js";
import { type RunningApiServer, startLiveApiServer } from "../support/api-server.js";
import { execute } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";
import { until } from "../support/wait.js";

/**
 * Receivers often authenticate senders by a query parameter (`?token=...`), so an endpoint URL's query values are
 * credentials: every reader sees them masked (`?token=****`), the delivery still goes to the full URL, and only the
 * audited `secrets:reveal` path shows them.
 */

const SECRET = "s3cret";

describe("maskUrlCredentials", () => {
  it.each([
    ["https://example.com/hook", "https://example.com/hook"],
    ["https://example.com/hook?token=s3cret&x=1", "https://example.com/hook?token=****&x=****"],
    // Empty values hide nothing: the shape stays.
    ["https://example.com/hook?a=&b=2&&", "https://example.com/hook?a=&b=****&&"],
    ["https://example.com/hook?", "https://example.com/hook?"],
    // A parameter without `=` may be a token itself.
    ["https://example.com/hook?s3cret", "https://example.com/hook?****"],
    ["https://example.com/hook?token&x=1", "https://example.com/hook?****&x=****"],
    // The fragment is not part of the query; a `?` after `#` is not a query at all.
    ["https://example.com/hook?token=s3cret#part", "https://example.com/hook?token=****#part"],
    ["https://example.com/hook#a?token=s3cret", "https://example.com/hook#a?token=s3cret"],
    // `=` inside a value stays hidden with it.
    ["https://example.com/hook?sig=a=b==", "https://example.com/hook?sig=****"],
    ["https://deploy:hunter2@example.com/hook", "https://deploy:****@example.com/hook"],
    ["https://s3cret@example.com/hook?token=s3cret", "https://****@example.com/hook?token=****"],
  ])("masks %s as %s", (url, masked) => {
    expect(maskUrlCredentials(url)).toBe(masked);
  });

  it("gives the same answer when applied twice (readers mask rows their writers masked already)", () => {
    const once = maskUrlCredentials("https://deploy:hunter2@example.com/hook?token=s3cret&flag");
    expect(maskUrlCredentials(once)).toBe(once);
  });
});

describe("restoreMaskedQueryValues", () => {
  const stored = "https://example.com/hook?token=s3cret&x=1&x=2&bare";

  it("puts each masked value back by name and position, keeping values sent in clear", () => {
    expect(restoreMaskedQueryValues("https://example.com/new?token=****&x=9&x=****&****", stored)).toBe(
      "https://example.com/new?token=s3cret&x=9&x=2&bare",
    );
    expect(restoreMaskedQueryValues("https://example.com/hook?token=plain", stored)).toBe(
      "https://example.com/hook?token=plain",
    );
  });

  it("refuses a mask with no stored value, or one sent to another origin", () => {
    for (const url of [
      "https://example.com/hook?other=****",
      "https://example.com/hook?x=****&x=****&x=****",
      "https://elsewhere.example/hook?token=****",
      "http://example.com/hook?token=****",
    ]) {
      expect(() => restoreMaskedQueryValues(url, stored), url).toThrow(ValidationError);
    }
  });
});

let delivering: Delivering;
let receiver: TestReceiver;
let api: RunningApiServer;
beforeAll(async () => {
  api = await startLiveApiServer();
  delivering = await startDelivering();
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  await receiver.close();
  await delivering.stop();
  await api.close();
});

/** The loopback receiver's URL with a token in its query, as a receiver that authenticates senders so would ask. */
const tokenUrl = () => `${receiver.url}?token=${SECRET}&x=1`;
const maskedTokenUrl = () => `${receiver.url}?token=****&x=****`;

async function endpointWithQueryToken() {
  const owner = await seed.tenantWithKey({ scopes: ["admin"] });
  await seedEventType(owner.tenant.id, "order.created");
  const outbound = outboundApi(owner.headers);
  const endpoint = await outbound.createEndpoint({ url: tokenUrl() });
  return { owner, outbound, endpoint };
}

/** Publishes one event and waits until the receiver has it; returns the path (with query) it was posted to. */
async function deliveredPath(outbound: ReturnType<typeof outboundApi>, n: number): Promise<string> {
  const published = await outbound.publish({ eventType: "order.created", payload: { n } });
  const request = await until(
    async () => receiver.requests.find((found) => found.headers["webhook-id"] === published.event.messageId),
    (found) => found !== undefined,
    `delivery ${n}`,
  );
  await until(
    () => prisma.delivery.findFirstOrThrow({ where: { eventId: uuidOf(published.event.id) } }),
    (delivery) => delivery.status === "SUCCEEDED",
    `delivery ${n} recorded`,
  );
  return request?.path ?? "";
}

const REVEAL = `mutation ($id: ID!) { revealEndpointUrl(id: $id) {
  __typename ... on RevealedEndpointUrl { url } ... on Error { code } } }`;

const UPDATE_URL = `mutation ($id: ID!, $url: String) { updateEndpoint(id: $id, input: { url: $url }) {
  __typename ... on Endpoint { url } ... on Error { field message } } }`;

interface ConsoleLine {
  kind: string;
  message: string;
  endpointId: string | null;
  data: Record<string, unknown>;
}

/** The tenant's last console events, replayed over graphql-ws on the real port, until `done` holds. */
async function consoleLines(authorization: string, done: (lines: ConsoleLine[]) => boolean): Promise<ConsoleLine[]> {
  const lines: ConsoleLine[] = [];
  const errors: unknown[] = [];
  const client: Client = createClient({
    url: api.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization },
  });
  client.subscribe<{ consoleEvents: ConsoleLine }>(
    { query: "subscription { consoleEvents(last: 100) { kind message endpointId data } }" },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) lines.push(result.data.consoleEvents);
      },
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
  );
  try {
    await until(
      async () => ({ lines, errors }),
      (seen) => seen.errors.length > 0 || done(seen.lines),
      "console lines",
    );
    expect(errors).toEqual([]);
    return lines;
  } finally {
    await client.dispose();
  }
}

describe("endpoint URL query values", () => {
  it("are sent to the receiver in full and shown to no reader", async () => {
    const { owner, outbound, endpoint } = await endpointWithQueryToken();
    expect(await deliveredPath(outbound, 1)).toBe(`/hook?token=${SECRET}&x=1`);
    const test = await outbound.run<{ sendTestEvent: { __typename: string; statusCode: number } }>(
      `mutation ($id: ID!) { sendTestEvent(endpointId: $id) { __typename ... on SendResult { statusCode } } }`,
      { id: endpoint.id },
    );
    expect(test.sendTestEvent).toEqual({ __typename: "SendResult", statusCode: 200 });
    expect(receiver.requests.at(-1)?.path).toBe(`/hook?token=${SECRET}&x=1`);

    // The stored row keeps the full URL: masking is for readers.
    const stored = await prisma.endpoint.findUniqueOrThrow({ where: { id: uuidOf(endpoint.id) } });
    expect(stored.url).toBe(tokenUrl());

    const reader = await seed.keyFor(owner.tenant, {
      scopes: ["endpoints:read", "deliveries:read"],
      name: "reader",
    });
    const read = async (query: string, variables: Record<string, unknown> = {}) => {
      const result = await execute(query, variables, reader.headers);
      expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
      return result.data;
    };
    const one = (await read(`query ($id: ID!) { endpoint(id: $id) { ... on Endpoint { url } } }`, {
      id: endpoint.id,
    })) as { endpoint: { url: string } };
    expect(one.endpoint.url).toBe(maskedTokenUrl());
    const node = (await read(`query ($id: ID!) { node(id: $id) { ... on Endpoint { url } } }`, {
      id: endpoint.id,
    })) as { node: { url: string } };
    expect(node.node.url).toBe(maskedTokenUrl());
    const listed = (await read("{ endpoints { edges { node { id url } } } }")) as {
      endpoints: { edges: { node: { id: string; url: string } }[] };
    };
    expect(listed.endpoints.edges.map((edge) => edge.node)).toEqual([{ id: endpoint.id, url: maskedTokenUrl() }]);
    const deliveries = await read(`{ deliveries { ... on DeliveryConnection { edges { node { id endpoint { url }
      request { headers body } attempts { endpoint { url } errorMessage responseBody } } } } } }`);
    const attempts = await read(
      "{ deliveryAttempts { ... on DeliveryAttemptConnection { edges { node { endpoint { url } errorMessage } } } } }",
    );
    for (const data of [deliveries, attempts]) {
      expect(JSON.stringify(data)).toContain("token=****");
      expect(JSON.stringify(data)).not.toContain(SECRET);
    }
    const exported = await execute(
      `{ exportDeliveries(format: NDJSON) { ... on DeliveryExport { rowCount data } } }`,
      {},
      owner.headers,
    );
    expect(exported.data).toMatchObject({ exportDeliveries: { rowCount: 2 } });
    expect(JSON.stringify(exported.data)).not.toContain(SECRET);

    // The console: attempt and test lines carry the masked URL, in data and in the message.
    const lines = await consoleLines(owner.headers.authorization as string, (seen) =>
      ["ATTEMPT_SUCCEEDED", "TEST_SENT"].every((kind) => seen.some((line) => line.kind === kind)),
    );
    const sends = lines.filter((line) => line.kind === "ATTEMPT_SUCCEEDED" || line.kind === "TEST_SENT");
    expect(sends.map((line) => line.data.url)).toEqual([maskedTokenUrl(), maskedTokenUrl()]);
    expect(sends.every((line) => line.message.includes(maskedTokenUrl()))).toBe(true);
    expect(JSON.stringify(lines)).not.toContain(SECRET);

    // Deleting leaves an audit entry naming the URL: masked.
    const deleted = await outbound.run<{ deleteEndpoint: { __typename: string } }>(
      `mutation ($id: ID!) { deleteEndpoint(id: $id) { __typename } }`,
      { id: endpoint.id },
    );
    expect(deleted.deleteEndpoint.__typename).not.toMatch(/Error$/);
    const audit = await execute<{ auditLog: { edges: { node: { action: string; metadata: unknown } }[] } }>(
      `{ auditLog { edges { node { action metadata } } } }`,
      {},
      owner.headers,
    );
    const entries = audit.data?.auditLog.edges.map((edge) => edge.node) ?? [];
    expect(entries.find((entry) => entry.action === "endpoint.deleted")?.metadata).toMatchObject({
      url: maskedTokenUrl(),
    });
    expect(JSON.stringify(entries)).not.toContain(SECRET);
  });

  it("are masked on read in console events and audit entries written before they were masked", async () => {
    const { owner, endpoint } = await endpointWithQueryToken();
    const endpointId = uuidOf(endpoint.id);
    // As the previous version wrote them: the URL in full.
    await recordConsoleEvent({
      tenantId: owner.tenant.id,
      kind: "TEST_SENT",
      endpointId,
      data: { url: tokenUrl(), statusCode: 200, durationMs: 3 },
    });
    await prisma.auditEntry.create({
      data: {
        tenantId: owner.tenant.id,
        actorType: "system",
        actorName: "previous version",
        action: "endpoint.deleted",
        targetType: "Endpoint",
        targetId: endpointId,
        metadata: { name: "old", url: tokenUrl() },
      },
    });

    const lines = await consoleLines(owner.headers.authorization as string, (seen) =>
      seen.some((line) => line.kind === "TEST_SENT"),
    );
    const line = lines.find((found) => found.kind === "TEST_SENT");
    expect(line?.data.url).toBe(maskedTokenUrl());
    expect(line?.message).toBe(`Test sent to ${maskedTokenUrl()}: 200 in 3 ms`);
    const audit = await execute<{ auditLog: { edges: { node: { action: string; metadata: unknown } }[] } }>(
      `{ auditLog(filter: { actions: ["endpoint.deleted"] }) { edges { node { action metadata } } } }`,
      {},
      owner.headers,
    );
    expect(audit.data?.auditLog.edges.map((edge) => edge.node.metadata)).toEqual([
      { name: "old", url: maskedTokenUrl() },
    ]);
  });

  it("keeps the stored values when the masked URL read back is saved, on the same origin only", async () => {
    const { owner, outbound, endpoint } = await endpointWithQueryToken();
    const update = (url: string) =>
      execute<{ updateEndpoint: { __typename: string; url?: string; field?: string } }>(
        UPDATE_URL,
        { id: endpoint.id, url },
        owner.headers,
      );
    // What a client read, sent back as it is, and with another path.
    expect((await update(maskedTokenUrl())).data?.updateEndpoint).toEqual({
      __typename: "Endpoint",
      url: maskedTokenUrl(),
    });
    const movedPath = `${receiver.url}/v2?token=****&x=2`;
    expect((await update(movedPath)).data?.updateEndpoint).toEqual({
      __typename: "Endpoint",
      url: `${receiver.url}/v2?token=****&x=****`,
    });
    expect(await deliveredPath(outbound, 2)).toBe(`/hook/v2?token=${SECRET}&x=2`);

    // Another origin with the mask: an endpoints:write key could otherwise read the token off a send to its own host.
    const elsewhere = maskedTokenUrl().replace("127.0.0.1", "localhost");
    const refused = await update(elsewhere);
    expect(refused.data?.updateEndpoint).toMatchObject({ __typename: "ValidationError", field: "url" });
    // A mask for a parameter with no stored value is refused too.
    expect((await update(`${receiver.url}/v2?token=****&fresh=****`)).data?.updateEndpoint).toMatchObject({
      __typename: "ValidationError",
      field: "url",
    });
    const stored = await prisma.endpoint.findUniqueOrThrow({ where: { id: uuidOf(endpoint.id) } });
    expect(stored.url).toBe(`${receiver.url}/v2?token=${SECRET}&x=2`);
    expect(await deliveredPath(outbound, 3)).toBe(`/hook/v2?token=${SECRET}&x=2`);

    // Given in clear, the values may go to another origin.
    const moved = await update(`${receiver.url.replace("127.0.0.1", "localhost")}?token=new-${SECRET}`);
    expect(moved.data?.updateEndpoint.__typename).toBe("Endpoint");
    expect(moved.data?.updateEndpoint.url).toMatch(/^http:\/\/localhost:\d+\/hook\?token=\*\*\*\*$/);
  });

  it("refuses the mask as a value when an endpoint is created", async () => {
    const { tenant } = await seed.tenantWithKey({ scopes: ["admin"] });
    const { headers } = await seed.keyFor(tenant, { scopes: ["endpoints:write"], name: "writer" });
    for (const url of [maskedTokenUrl(), `${receiver.url}?****`]) {
      const result = await execute<{ createEndpoint: { __typename: string; field?: string } }>(
        `mutation ($input: CreateEndpointInput!) { createEndpoint(input: $input) {
          __typename ... on Error { field } } }`,
        { input: { name: "masked", url } },
        headers,
      );
      expect(result.data?.createEndpoint, url).toEqual({ __typename: "ValidationError", field: "url" });
    }
    expect(await prisma.endpoint.count({ where: { tenantId: tenant.id } })).toBe(0);
  });

  it("are revealed only with secrets:reveal, audited, and not across tenants", async () => {
    const { owner, endpoint } = await endpointWithQueryToken();
    const writer = await seed.keyFor(owner.tenant, { scopes: ["endpoints:read", "endpoints:write"], name: "writer" });
    const refused = await execute(REVEAL, { id: endpoint.id }, writer.headers);
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(refused.data?.revealEndpointUrl ?? null).toBeNull();

    const revealer = await seed.keyFor(owner.tenant, { scopes: ["secrets:reveal"], name: "revealer" });
    const revealed = await execute<{ revealEndpointUrl: { __typename: string; url: string } }>(
      REVEAL,
      { id: endpoint.id },
      revealer.headers,
    );
    expect(revealed.data?.revealEndpointUrl).toEqual({ __typename: "RevealedEndpointUrl", url: tokenUrl() });
    const audit = await prisma.auditEntry.findFirst({
      where: { tenantId: owner.tenant.id, action: "endpoint_url.revealed" },
    });
    expect(audit).toMatchObject({ actorId: revealer.apiKey.id, targetId: uuidOf(endpoint.id) });
    expect(audit?.metadata).toEqual({ url: maskedTokenUrl() });

    // The console says whose URL was revealed, without it.
    const lines = await consoleLines(owner.headers.authorization as string, (seen) =>
      seen.some((line) => line.kind === "SECRET_REVEALED"),
    );
    const line = lines.find((found) => found.kind === "SECRET_REVEALED");
    expect(line?.message).toMatch(/^URL of endpoint endpoint-\w+ revealed$/);
    expect(JSON.stringify(line)).not.toContain(SECRET);

    // Another tenant's endpoint is NOT_FOUND, like a missing one, and reveals nothing.
    const stranger = await seed.tenantWithKey({ scopes: ["secrets:reveal"] });
    const foreign = await execute<{ revealEndpointUrl: { __typename: string; code: string } }>(
      REVEAL,
      { id: endpoint.id },
      stranger.headers,
    );
    expect(foreign.data?.revealEndpointUrl).toEqual({ __typename: "NotFoundError", code: "NOT_FOUND" });
    expect(
      await prisma.auditEntry.count({ where: { tenantId: stranger.tenant.id, action: "endpoint_url.revealed" } }),
    ).toBe(0);
  });
});
