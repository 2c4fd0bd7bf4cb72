import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type SignalpostProcess, startCompiledServer } from "../support/process.js";
import { type SeededKey, seed } from "../support/seed.js";

// The attacks against the build `npm start` runs, with its heap cap: before the limits, each of them ran the
// 512 MB heap out and killed the process. A few of each, then the process must still answer.
let server: SignalpostProcess;
let baseUrl: string;
let admin: SeededKey;

beforeAll(async () => {
  admin = await seed.tenantWithKey();
  ({ server, baseUrl } = await startCompiledServer());
}, 120_000);
afterAll(() => {
  server?.child.kill("SIGKILL");
});

async function post(body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: response.status, text: await response.text() };
}

/** Sends one `connection_init` of `bytes` and resolves with the close code (or -1 if the socket broke). */
function hugeConnectionInit(message: Buffer): Promise<number> {
  return new Promise((resolve) => {
    // An all-zero mask makes ws skip masking the 80 MB (RFC 6455 allows any mask), so the frame header reaches the
    // server at once, well inside the connection_init deadline, however busy this machine is.
    const socket = new WebSocket(`${baseUrl.replace("http", "ws")}/graphql`, "graphql-transport-ws", {
      generateMask: (mask) => mask.fill(0),
    });
    socket.on("error", () => resolve(-1));
    socket.on("close", (code) => resolve(code));
    socket.on("open", () => socket.send(message));
  });
}

async function stillServing() {
  const health = await fetch(`${baseUrl}/healthz`);
  expect(health.status).toBe(200);
  const answer = await post(JSON.stringify({ query: "{ serverInfo { version } }" }));
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.text).data.serverInfo.version).toEqual(expect.any(String));
}

describe("one request or connection cannot exhaust the heap of npm start's process", () => {
  it("two parallel 26 MB documents of __typename, without and with a key", async () => {
    const huge = JSON.stringify({ query: `{ ${"__typename ".repeat(2_400_000)}}` });
    const answers = await Promise.all([post(huge), post(huge), post(huge, admin.headers), post(huge, admin.headers)]);
    // The two keyed bodies do not fit the 32 MB of large bodies in flight together: whichever comes second may be
    // refused SERVER_BUSY before it is read; the one read is refused for its tokens.
    const keyed = answers.slice(2);
    expect(answers.slice(0, 2).map((answer) => answer.status)).toEqual([413, 413]);
    expect(keyed.map((answer) => answer.status)).toContain(400);
    for (const answer of keyed) {
      expect([400, 503]).toContain(answer.status);
      expect(answer.text).toContain(answer.status === 400 ? "MAX_TOKENS_EXCEEDED" : "SERVER_BUSY");
    }
    await stillServing();
  });

  it("1,000 aliases of a page of deliveries with nested lists, and 200-level nesting, with a key", async () => {
    const alias = (index: number) =>
      `a${index}: deliveries(first: 100) { ... on DeliveryConnection { edges { node { event { payload } endpoint { health { state } } } } } }`;
    const aliases = JSON.stringify({ query: `{ ${Array.from({ length: 1_000 }, (_, i) => alias(i)).join(" ")} }` });
    let nested = "id";
    for (let level = 0; level < 200; level++) nested = `attempts { delivery { ${nested} } }`;
    const deep = JSON.stringify({ query: `{ delivery(id: "x") { ... on Delivery { ${nested} } } }` });
    const answers = await Promise.all([
      post(aliases, admin.headers),
      post(aliases, admin.headers),
      post(deep, admin.headers),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400]);
    expect(answers[2]?.text).toContain("MAX_DEPTH_EXCEEDED");
    await stillServing();
  });

  it("three WebSocket connection_init frames of 80 MB without a key: each closed with 1009", async () => {
    const message = Buffer.from(
      JSON.stringify({ type: "connection_init", payload: { padding: "x".repeat(80 * 1024 * 1024) } }),
    );
    const codes = await Promise.all([0, 1, 2].map(() => hugeConnectionInit(message)));
    // The server closes at the frame header; a client still writing may see its socket break instead.
    for (const code of codes) expect([1009, -1]).toContain(code);
    expect(codes).toContain(1009);
    await stillServing();
  });

  it("the process never died", () => {
    // A heap exhaustion ends the process with SIGABRT (signalCode), not an exit code.
    expect({ exitCode: server.child.exitCode, signalCode: server.child.signalCode }).toEqual({
      exitCode: null,
      signalCode: null,
    });
  });
});
