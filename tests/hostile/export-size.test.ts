import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRAPHQL_LIMITS } from "../../src/graphql/limits.js";
import { MAX_EXPORT_BYTES } from "../../src/modules/deliveries/export.js";
import { execute } from "../support/graphql.js";
import { type Delivering, startDelivering } from "../support/outbound.js";
import { outboundApi } from "../support/outbound-api.js";
import { seed, seedEventType } from "../support/seed.js";

/**
 * Exports carry every row's payload (up to 256 KB): 10,000 rows could come to gigabytes, past the heap and the
 * longest string V8 can make. One export is bounded in bytes, and an operation holds only a few.
 */
// Deliveries stay waiting (nothing dispatches them): the export only reads them.
let outbound: Delivering;
beforeAll(async () => {
  outbound = await startDelivering({ dispatch: false });
});
afterAll(async () => {
  await outbound.stop();
});

describe("exportDeliveries is bounded", () => {
  it(`stops before ${MAX_EXPORT_BYTES / 1024 / 1024} MB and says so; five in one operation are too costly`, async () => {
    const owner = await seed.tenantWithKey({ scopes: ["admin"] });
    await seedEventType(owner.tenant.id, "big.event");
    const api = outboundApi(owner.headers);
    await api.createEndpoint({ url: "http://127.0.0.1:9/unused", eventTypes: ["big.event"] });
    const payload = { blob: "x".repeat(250 * 1024) };
    // 70 rows of about 250 KB: more than the byte limit, far fewer than the row limit.
    for (let i = 0; i < 70; i += 1) {
      expect((await api.publish({ eventType: "big.event", payload })).__typename).toBe("PublishedEvent");
    }
    const exported = await api.run<{
      exportDeliveries: { rowCount: number; truncated: boolean; data: string };
    }>("{ exportDeliveries(limit: 1000) { ... on DeliveryExport { rowCount truncated data } } }");
    const { rowCount, truncated, data } = exported.exportDeliveries;
    expect(truncated).toBe(true);
    expect(data.length).toBeLessThanOrEqual(MAX_EXPORT_BYTES);
    expect(rowCount).toBe(data.trim().split("\n").length);
    expect(rowCount).toBeGreaterThan(50);
    expect(rowCount).toBeLessThan(70);

    const five = Array.from({ length: 5 }, (_, i) => `e${i}: exportDeliveries(limit: 10000) { __typename }`).join(" ");
    const refused = await execute(`{ ${five} }`, {}, owner.headers);
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", limit: GRAPHQL_LIMITS.cost });
  }, 60_000);
});
