import { afterAll, describe, expect, it } from "vitest";
import { execute } from "../support/graphql.js";
import { gid } from "../support/ids.js";
import { runSignalpost, servingPort } from "../support/process.js";
import { seed } from "../support/seed.js";

describe("two instances on one database", () => {
  const other = runSignalpost(["serve", "--role", "api"], {
    DATABASE_URL: process.env.DATABASE_URL,
    PORT: "0",
    HOST: "127.0.0.1",
  });
  afterAll(async () => {
    other.child.kill("SIGTERM");
    await other.exited;
  });

  it("sees a key revoked on this instance at once on the other one", async () => {
    const port = await servingPort(other);
    const { tenant, headers } = await seed.tenantWithKey();
    const victim = await seed.keyFor(tenant, { name: "to be revoked" });
    const ask = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...victim.headers },
        body: JSON.stringify({ query: "{ viewer { apiKey { name } } }" }),
      });
      return { status: response.status, body: (await response.json()) as { errors?: { message: string }[] } };
    };
    expect((await ask()).status).toBe(200);

    await execute(`mutation { revokeApiKey(id: "${gid("ApiKey", victim.apiKey.id)}") { __typename } }`, {}, headers);
    // "At once": the very next request, sent with no wait or retry, is refused. The other instance keeps the key's
    // row (api-key-rows.ts); the revocation's notice is sent to it at commit, before the mutation's answer reaches us.
    const after = await ask();
    expect(after.status).toBe(401);
    expect(after.body.errors?.[0]?.message).toBe("API key has been revoked");
  });
});
