import { describe, expect, it } from "vitest";
import { createInstance } from "../../src/app-context.js";
import { prisma } from "../../src/db/prisma.js";
import { createGraphQLServer } from "../../src/http/yoga.js";
import { generateMasterKey, parseMasterKeys } from "../../src/lib/master-key.js";
import { openSecret } from "../../src/lib/secret-box.js";
import { uuidOf } from "../support/ids.js";
import { seed } from "../support/seed.js";

/**
 * Two instances in one process, on one database: each part reads its own instance (keyring, authenticator, outbound
 * rules), never a module variable another instance set. With process-wide state, the second instance's keyring or
 * rules would leak into the first one's answers.
 */

function serverOf(instance: ReturnType<typeof createInstance>) {
  const yoga = createGraphQLServer(instance);
  return async <Data>(query: string, variables: Record<string, unknown>, headers: Record<string, string>) => {
    const response = await yoga.fetch("http://signalpost.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Data; errors?: { message: string; extensions?: { code?: string } }[] };
  };
}

function newInstance(allowInsecureUrls: boolean) {
  return createInstance({
    keyring: parseMasterKeys(generateMasterKey()),
    authentication: { sessionTtlSeconds: 600 },
    instanceDefaults: { allowInsecureUrls },
  });
}

const CREATE_ENDPOINT = `mutation ($url: String!) { createEndpoint(input: { name: "e", url: $url }) {
  __typename ... on ValidationError { field } } }`;
const CREATE_SESSION = `mutation { createSession { ... on SessionToken { token } } }`;

describe("instances built side by side", () => {
  it("check URLs against their own outbound rules", async () => {
    const developer = serverOf(newInstance(true));
    const production = serverOf(newInstance(false));
    const { headers } = await seed.tenantWithKey();
    const url = "http://127.0.0.1:9/hooks";
    type Created = { createEndpoint: { __typename: string; field?: string } };
    const refused = await production<Created>(CREATE_ENDPOINT, { url }, headers);
    expect(refused.data?.createEndpoint).toEqual({ __typename: "ValidationError", field: "url" });
    const accepted = await developer<Created>(CREATE_ENDPOINT, { url }, headers);
    expect(accepted.data?.createEndpoint.__typename).toBe("CreatedEndpoint");
    // The developer instance did not loosen the production one's rules on the way.
    const refusedAgain = await production<Created>(CREATE_ENDPOINT, { url: "http://127.0.0.1:9/other" }, headers);
    expect(refusedAgain.data?.createEndpoint).toEqual({ __typename: "ValidationError", field: "url" });
  });

  it("sign sessions with their own keyring: one's session token is refused by the other", async () => {
    const first = serverOf(newInstance(false));
    const second = serverOf(newInstance(false));
    const { headers } = await seed.tenantWithKey();
    const issued = await first<{ createSession: { token: string } }>(CREATE_SESSION, {}, headers);
    const token = issued.data?.createSession.token as string;
    expect(token).toEqual(expect.any(String));
    const bearer = { authorization: `Bearer ${token}` };
    const viewer = "{ viewer { method } }";
    expect((await first<{ viewer: { method: string } }>(viewer, {}, bearer)).data?.viewer.method).toBe("SESSION");
    const elsewhere = await second(viewer, {}, bearer);
    expect(elsewhere.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("seal secrets with their own keyring: a secret revealed by the instance that sealed it", async () => {
    const otherInstance = newInstance(false);
    const sealingInstance = newInstance(false);
    const sealing = serverOf(sealingInstance);
    const other = serverOf(otherInstance);
    const { headers } = await seed.tenantWithKey();
    type Created = { createAgent: { secret: string; agent: { id: string } } };
    const created = await sealing<Created>(
      `mutation { createAgent(input: { name: "a" }) { ... on CreatedAgent { secret agent { id } } } }`,
      {},
      headers,
    );
    expect(created.data?.createAgent.secret).toEqual(expect.any(String));
    const { secret, agent } = (created.data as Created).createAgent;
    const reveal = `mutation ($id: ID!) { revealAgentSecret(id: $id) { ... on AgentSecret { secret } } }`;
    const revealed = await sealing<{ revealAgentSecret: { secret: string } }>(reveal, { id: agent.id }, headers);
    expect(revealed.data?.revealAgentSecret.secret).toBe(secret);
    // Sealed under a master key the other instance does not hold: it cannot open it (an internal error, not the secret).
    const unreadable = await other<{ revealAgentSecret: { secret: string } | null }>(reveal, { id: agent.id }, headers);
    expect(unreadable.data?.revealAgentSecret?.secret).toBeUndefined();
    expect(unreadable.errors?.length).toBe(1);
    const stored = await prisma.agent.findUniqueOrThrow({ where: { id: uuidOf(agent.id) } });
    await expect(openSecret(otherInstance.keyring, stored.encryptedSecret)).rejects.toThrow(/not configured/);
    // ...and neither can its inbound verification, though the sealing instance has opened the same row already.
    const versioned = { ...stored, version: "1" };
    expect(await sealingInstance.agentSecrets.secretsOf(versioned)).toEqual([secret]);
    await expect(otherInstance.agentSecrets.secretsOf(versioned)).rejects.toThrow(/not configured/);
  });
});
