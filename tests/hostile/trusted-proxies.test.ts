import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCidr } from "../../src/lib/cidr.js";
import { type RunningApiServer, startApiServer } from "../support/api-server.js";
import { type SeededKey, seed } from "../support/seed.js";

/**
 * SIGNALPOST_TRUSTED_PROXIES: the client address comes from Forwarded / X-Forwarded-For only through a trusted
 * proxy, and a client cannot choose the address its failures and audit entries are recorded under. Every request
 * here comes from 127.0.0.1, which one server trusts and the other does not.
 */

const ranges = (...texts: string[]) =>
  texts.map((text) => {
    const parsed = parseCidr(text);
    if ("problem" in parsed) throw new Error(parsed.problem);
    return parsed;
  });

let direct: RunningApiServer;
let proxied: RunningApiServer;
let httpsPublic: RunningApiServer;
let admin: SeededKey;

beforeAll(async () => {
  admin = await seed.tenantWithKey();
  direct = await startApiServer(undefined, { limits: { maxConnectionsPerAddress: 2 } });
  proxied = await startApiServer(undefined, {
    trustedProxies: ranges("127.0.0.1", "10.0.0.0/8"),
    limits: { maxConnectionsPerAddress: 2 },
  });
  httpsPublic = await startApiServer(undefined, {
    trustedProxies: ranges("127.0.0.1"),
    publicUrl: () => "https://signalpost.example",
  });
});
afterAll(async () => {
  for (const server of [direct, proxied, httpsPublic]) await server?.close();
});

/** Creates a key through `server` with `headers` added, and returns the address its audit entry recorded. */
async function recordedIp(server: RunningApiServer, headers: Record<string, string>): Promise<string | null> {
  const name = `proxy-${Math.random().toString(36).slice(2)}`;
  const created = await fetch(`${server.httpUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...admin.headers, ...headers },
    body: JSON.stringify({
      query: `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { __typename } }`,
      variables: { input: { name, scopes: ["ENDPOINTS_READ"] } },
    }),
  });
  expect(created.status).toBe(200);
  const log = await fetch(`${server.httpUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...admin.headers },
    body: JSON.stringify({
      query: `{ auditLog(filter: { actions: ["api_key.created"] }) { edges { node { ip metadata } } } }`,
    }),
  });
  const body = (await log.json()) as {
    data: { auditLog: { edges: { node: { ip: string | null; metadata: { name?: string } } }[] } };
  };
  const entry = body.data.auditLog.edges.find((edge) => edge.node.metadata.name === name);
  if (!entry) throw new Error(`no audit entry for ${name}: ${JSON.stringify(body)}`);
  return entry.node.ip;
}

describe("the client address", () => {
  it("is the socket's when no proxy is trusted, whatever the headers say", async () => {
    expect(await recordedIp(direct, { "x-forwarded-for": "203.0.113.7" })).toBe("127.0.0.1");
    expect(await recordedIp(direct, { forwarded: "for=203.0.113.7" })).toBe("127.0.0.1");
  });

  it("is the forwarded one through a trusted proxy: the nearest untrusted hop, never a made-up one farther left", async () => {
    const cases: [Record<string, string>, string][] = [
      [{}, "127.0.0.1"],
      [{ "x-forwarded-for": "203.0.113.7" }, "203.0.113.7"],
      // The client wrote 198.51.100.1 itself; the proxy appended the address it saw.
      [{ "x-forwarded-for": "198.51.100.1, 203.0.113.7" }, "203.0.113.7"],
      // Two trusted proxies (10.1.2.3 is one) between the client and us.
      [{ "x-forwarded-for": "198.51.100.1, 203.0.113.7, 10.1.2.3" }, "203.0.113.7"],
      [{ "x-forwarded-for": "203.0.113.7:51234" }, "203.0.113.7"],
      [{ forwarded: 'for=198.51.100.1, for="[2001:db8::17]:4711";proto=https' }, "2001:db8::17"],
      // Forwarded wins over X-Forwarded-For when a proxy sends both.
      [{ forwarded: "for=192.0.2.60", "x-forwarded-for": "203.0.113.7" }, "192.0.2.60"],
      // What cannot be read stops the walk at the last address that could: the proxy's.
      [{ "x-forwarded-for": "not-an-address" }, "127.0.0.1"],
      [{ forwarded: "for=unknown" }, "127.0.0.1"],
      [{ forwarded: 'for="unterminated' }, "127.0.0.1"],
      [{ "x-forwarded-for": `${"1.2.3.4,".repeat(2_000)}203.0.113.7` }, "203.0.113.7"],
    ];
    for (const [headers, expected] of cases) {
      expect({ headers, ip: await recordedIp(proxied, headers) }).toEqual({ headers, ip: expected });
    }
  });

  it("lets a trusted proxy hold more connections than one address may; anyone else is capped", async () => {
    const open = async (port: number) => {
      const socket = net.connect(port, "127.0.0.1");
      await new Promise((resolve) => socket.once("connect", resolve));
      return socket;
    };
    const answerTo = (socket: net.Socket, request: string) =>
      new Promise<string>((resolve) => {
        let text = "";
        socket.on("data", (chunk) => {
          text += chunk.toString();
          if (text.includes("\r\n\r\n")) resolve(text.split("\r\n")[0] as string);
        });
        if (request) socket.write(request);
      });
    const healthz = "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    const directSockets = [await open(direct.port), await open(direct.port), await open(direct.port)];
    const proxiedSockets = [await open(proxied.port), await open(proxied.port), await open(proxied.port)];
    try {
      expect(await answerTo(directSockets[2] as net.Socket, "")).toBe("HTTP/1.1 503 Service Unavailable");
      expect(await answerTo(proxiedSockets[2] as net.Socket, healthz)).toBe("HTTP/1.1 200 OK");
    } finally {
      for (const socket of [...directSockets, ...proxiedSockets]) socket.destroy();
    }
  });
});

describe("an https public URL", () => {
  it("sends HSTS, and sends a client a trusted proxy says came over http to the https address", async () => {
    const plain = await fetch(`${httpsPublic.httpUrl}/graphql?query=%7B__typename%7D`, {
      headers: { "x-forwarded-proto": "http", "x-forwarded-for": "203.0.113.7" },
      redirect: "manual",
    });
    expect(plain.status).toBe(308);
    expect(plain.headers.get("location")).toBe("https://signalpost.example/graphql?query=%7B__typename%7D");

    const secure = await fetch(`${httpsPublic.httpUrl}/graphql?query=%7B__typename%7D`, {
      headers: { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.7" },
    });
    expect(secure.status).toBe(200);
    expect(secure.headers.get("strict-transport-security")).toBe("max-age=31536000");

    // Health checks are answered where they are asked, and a direct connection is not redirected.
    const health = await fetch(`${httpsPublic.httpUrl}/healthz`, { headers: { "x-forwarded-proto": "http" } });
    expect(health.status).toBe(200);
    expect((await fetch(`${httpsPublic.httpUrl}/healthz`)).headers.get("strict-transport-security")).toBe(
      "max-age=31536000",
    );
  });

  it("is the only case with HSTS; a proxy nobody trusts cannot cause the redirect", async () => {
    const response = await fetch(`${direct.httpUrl}/healthz`, { headers: { "x-forwarded-proto": "http" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("strict-transport-security")).toBeNull();
  });
});

describe("security headers", () => {
  it("are on every route: health, GraphQL, the console, the inbound route and a 404", async () => {
    const routes: [string, RequestInit][] = [
      ["/healthz", {}],
      ["/graphql?query=%7B__typename%7D", {}],
      ["/console", {}],
      ["/agents/00000000-0000-0000-0000-000000000000/webhook", { method: "POST", body: "{}" }],
      ["/no-such-route", {}],
    ];
    for (const [route, init] of routes) {
      const response = await fetch(`${direct.httpUrl}${route}`, init);
      expect({
        route,
        nosniff: response.headers.get("x-content-type-options"),
        framing: response.headers.get("x-frame-options"),
        // The console sends its own script policy; every policy forbids framing.
        frameAncestors: response.headers.get("content-security-policy")?.includes("frame-ancestors 'none'"),
        referrer: response.headers.get("referrer-policy"),
      }).toEqual({ route, nosniff: "nosniff", framing: "DENY", frameAncestors: true, referrer: "no-referrer" });
    }
  });
});
