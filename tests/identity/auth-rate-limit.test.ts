import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApiServer, startApiServer } from "../support/api-server.js";
import { seed } from "../support/seed.js";

// Its own file (and database): it exhausts the failure budget of 127.0.0.1.
let api: RunningApiServer;
beforeAll(async () => {
  api = await startApiServer();
});
afterAll(async () => {
  await api.close();
});

async function post(headers: Record<string, string>) {
  const response = await fetch(`${api.httpUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query: "{ viewer { scopes } }" }),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: (await response.json()) as { errors?: { message: string; extensions: Record<string, unknown> }[] },
  };
}

describe("failed authentication is rate limited per client address", () => {
  it("answers 429 with Retry-After after 30 failures, even for a valid key, and counts only failures", async () => {
    const { headers } = await seed.tenantWithKey();
    for (let i = 0; i < 10; i += 1) expect((await post(headers)).status).toBe(200);
    for (let i = 0; i < 30; i += 1) expect((await post({ authorization: "Bearer sp_wrong" })).status).toBe(401);

    const limited = await post(headers);
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect(limited.body.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED" });
    expect(limited.body.errors?.[0]?.message).toContain("Too many failed authentication attempts");
  });
});
