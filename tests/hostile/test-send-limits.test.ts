import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";
import { execute } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed } from "../support/seed.js";
import { TestReceiver } from "../support/test-receiver.js";

let delivering: Delivering;
let receiver: TestReceiver;
beforeAll(async () => {
  // Only the synchronous test sends go out; no dispatcher needed.
  delivering = await startDelivering({ dispatch: false });
  receiver = await TestReceiver.start();
});
afterAll(async () => {
  await receiver.close();
  await delivering.stop();
});

type Outcome = { __typename: string; statusCode?: number; code?: string; retryAfterSeconds?: number };

const TO_ALL = `mutation { sendTestEventToAll { endpoint { name } result { statusCode }
  outcome { __typename ... on SendResult { statusCode } ... on RateLimitedError { code message retryAfterSeconds } } } }`;

describe("sendTestEventToAll with one endpoint over its test limit", () => {
  it("answers each endpoint's own outcome, the limited one as a typed RateLimitedError", async () => {
    const { headers } = await seed.tenantWithKey();
    const api = outboundApi(headers);
    const busy = await api.createEndpoint({ name: "busy", url: receiver.url });
    await api.createEndpoint({ name: "quiet", url: receiver.url });

    // Use up busy's 5 test sends of the minute.
    for (let sent = 0; sent < 5; sent += 1) {
      const single = await execute<{ sendTestEvent: { __typename: string } }>(
        `mutation ($id: ID!) { sendTestEvent(endpointId: $id) { __typename } }`,
        { id: busy.id },
        headers,
      );
      expect(single.data?.sendTestEvent.__typename).toBe("SendResult");
    }
    const before = receiver.requests.length;

    const result = await execute<{
      sendTestEventToAll: { endpoint: { name: string }; result: { statusCode: number } | null; outcome: Outcome }[];
    }>(TO_ALL, {}, headers);
    expect(result.errors).toBeUndefined();
    const byName = Object.fromEntries(result.data?.sendTestEventToAll.map((item) => [item.endpoint.name, item]) ?? []);
    expect(byName.quiet).toMatchObject({
      result: { statusCode: 200 },
      outcome: { __typename: "SendResult", statusCode: 200 },
    });
    expect(byName.busy).toMatchObject({
      result: null,
      outcome: { __typename: "RateLimitedError", code: "RATE_LIMITED" },
    });
    expect(byName.busy?.outcome.retryAfterSeconds).toBeGreaterThan(0);
    // Only the quiet endpoint was sent to; the limited one got no delivery row either.
    expect(receiver.requests.length).toBe(before + 1);
    expect(await prisma.delivery.count({ where: { endpointId: uuidOf(busy.id) } })).toBe(5);
  });
});
