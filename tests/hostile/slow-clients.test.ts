import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { runSignalpost, type SignalpostProcess, servingPort } from "../support/process.js";
import { type SeededKey, seed } from "../support/seed.js";
import { until } from "../support/wait.js";

// Clients that send or read as slowly as TCP allows, against a server process of its own (the clients live in this
// one): keyed uploads that trickle a byte at a time, and WebSocket subscribers to the fastest heartbeat that stop
// reading. Before the timeouts, the upload rate floor and the subscriber bound, the uploads stayed open for as long
// as their senders liked, and a subscriber that stopped reading queued ticks until its queue overflowed.
let server: SignalpostProcess;
let port: number;
let admin: SeededKey;

beforeAll(async () => {
  admin = await seed.tenantWithKey();
  server = runSignalpost(["serve"], {
    DATABASE_URL: process.env.DATABASE_URL,
    PORT: "0",
    HOST: "127.0.0.1",
    // The server logs each WebSocket it closes at debug: the last case counts them.
    LOG_LEVEL: "debug",
  });
  port = await servingPort(server);
}, 60_000);
afterAll(() => {
  server?.child.kill("SIGKILL");
});

/** A keyed upload that declares `bytes` and then sends one byte per `everyMs`, never finishing. */
function trickle(bytes: number, everyMs: number) {
  const socket = connect(port, "127.0.0.1");
  let answer = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    answer += chunk;
  });
  socket.on("error", () => undefined);
  let ended = false;
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      ended = true;
      resolve();
    }),
  );
  socket.write(
    `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
      `authorization: ${admin.headers.authorization}\r\ncontent-length: ${bytes}\r\n\r\n{`,
  );
  const timer = setInterval(() => socket.write(" "), everyMs);
  void closed.then(() => clearInterval(timer));
  return { socket, closed, answer: () => answer, ended: () => ended };
}

/** A subscriber to the 100 ms heartbeat whose client stops reading from its socket once the first tick arrives. */
async function nonReadingSubscriber(): Promise<WebSocket> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, "graphql-transport-ws");
  socket.on("error", () => undefined);
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: admin.headers.authorization } }));
  const subscribe = { query: "subscription { heartbeat(intervalMs: 100) { sequence at } }" };
  await new Promise<void>((resolve) => {
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === "connection_ack")
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: subscribe }));
      if (message.type === "next") {
        socket.pause();
        resolve();
      }
    });
  });
  return socket;
}

async function timedQuery(): Promise<{ status: number; elapsedMs: number }> {
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...admin.headers },
    body: JSON.stringify({ query: "{ serverInfo { version } }" }),
  });
  await response.text();
  return { status: response.status, elapsedMs: performance.now() - started };
}

describe("slow and non-reading clients cannot starve the others", () => {
  let uploads: ReturnType<typeof trickle>[] = [];
  let subscribers: WebSocket[] = [];

  it("500 trickling uploads and 100 non-reading subscribers leave normal requests answered while they are open", async () => {
    uploads = Array.from({ length: 500 }, () => trickle(512 * 1024, 1_000));
    subscribers = await Promise.all(Array.from({ length: 100 }, () => nonReadingSubscriber()));
    // Normal requests, one after another, for as long as the uploads are open (the server must end them itself):
    // each answered, and several before the server has ended the first upload. A starved server answers nothing
    // until the uploads are gone, so the order of events is the claim under test, not anyone's elapsed time (which a
    // loaded machine stretches); the slowest answer is printed, issue 24's "within a second" on this machine.
    let open = uploads.length;
    for (const upload of uploads) void upload.closed.then(() => (open -= 1));
    const anyUploadEnded = () => uploads.some((upload) => upload.answer() !== "" || upload.ended());
    const answers: { status: number; elapsedMs: number; whileAllOpen: boolean }[] = [];
    while (open > 0) {
      const answer = await timedQuery();
      answers.push({ ...answer, whileAllOpen: !anyUploadEnded() });
    }
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    const slowest = Math.max(...answers.map((answer) => answer.elapsedMs));
    const beforeFirstEnd = answers.filter((answer) => answer.whileAllOpen).length;
    console.info(
      `${answers.length} normal requests answered while uploads were open (${beforeFirstEnd} before the server ended the first), slowest in ${Math.round(slowest)} ms`,
    );
    expect(beforeFirstEnd).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("the server ends each trickling upload itself, answering 408 with the floor it missed", async () => {
    await Promise.all(uploads.map((upload) => upload.closed));
    const refused = uploads.filter((upload) => upload.answer().startsWith("HTTP/1.1 408"));
    expect(refused.length).toBe(uploads.length);
    expect(refused[0]?.answer()).toContain("BODY_TOO_SLOW");
  }, 60_000);

  it("the server closes each subscriber that stopped reading, and goes on serving", async () => {
    // Paused, the clients cannot see the close themselves: the server's log line for each socket it closed says so.
    await until(
      async () => server.logs().filter((line) => line.msg === "WebSocket closed").length,
      (closed) => closed >= subscribers.length,
      "every non-reading subscriber closed by the server",
      60_000,
    );
    for (const socket of subscribers) socket.terminate();
    expect((await timedQuery()).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  }, 70_000);
});
