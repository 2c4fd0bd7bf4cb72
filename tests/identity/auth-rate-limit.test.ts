import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApiServer, startApiServer } from "../support/api-server.js";
import { postFromAddress } from "../support/local-address.js";
import { seed } from "../support/seed.js";

// Its own file (and database): it exhausts the failure budgets of several loopback addresses and of one key id.
let api: RunningApiServer;
beforeAll(async () => {
  api = await startApiServer();
});
afterAll(async () => {
  await api.close();
});

/** The viewer query from `address`: each address is its own client. */
function post(headers: Record<string, string>, address = "127.0.0.1") {
  const body = JSON.stringify({ query: "{ viewer { scopes } }" });
  return postFromAddress<GraphQLBody>(`${api.httpUrl}/graphql`, body, headers, address);
}
type GraphQLBody = { errors?: { message: string; extensions: Record<string, unknown> }[] };

describe("failed authentication is rate limited, and only failures are", () => {
  it("answers 429 with Retry-After to the 31st failure from one address, while a valid key from it still passes", async () => {
    const { headers } = await seed.tenantWithKey();
    for (let i = 0; i < 10; i += 1) expect((await post(headers)).status).toBe(200);
    for (let i = 0; i < 30; i += 1) expect((await post({ authorization: "Bearer sp_wrong" })).status).toBe(401);

    const limited = await post({ authorization: "Bearer sp_wrong" });
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect(limited.body.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED" });
    expect(limited.body.errors?.[0]?.message).toContain("Too many failed authentication attempts");

    expect((await post(headers)).status).toBe(200);
    // Another address has its own budget.
    expect((await post({ authorization: "Bearer sp_wrong" }, "127.0.0.2")).status).toBe(401);
  });

  it("limits wrong secrets for one key id across addresses to 100, and the key itself keeps working", async () => {
    const { token, headers } = await seed.tenantWithKey();
    // `sp_` + 32 hex id + `_`: the secret itself may contain underscores.
    const wrongSecret = `${token.slice(0, 36)}${"A".repeat(43)}`;
    expect(wrongSecret).not.toBe(token);
    // 5 addresses x 20 failures: each stays under its own 30, together they spend the key id's 100.
    for (let client = 0; client < 5; client += 1) {
      for (let i = 0; i < 20; i += 1) {
        expect((await post({ authorization: `Bearer ${wrongSecret}` }, `127.0.1.${client + 1}`)).status).toBe(401);
      }
    }
    const limited = await post({ authorization: `Bearer ${wrongSecret}` }, "127.0.1.99");
    expect(limited.status).toBe(429);
    expect(limited.body.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED" });
    expect((await post(headers, "127.0.1.99")).status).toBe(200);
    expect((await post(headers, "127.0.1.1")).status).toBe(200);
  });
});
