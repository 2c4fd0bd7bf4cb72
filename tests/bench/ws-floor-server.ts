/**
 * The subscription phases' floor: the graphql-ws messages a subscriber of `eventPublished` receives, sent by a server
 * that does nothing else (no GraphQL, no database, no authentication): on connection_init an ack, on subscribe the id
 * is remembered, and POST /publish sends every remembered subscription one `next` with the posted payload, shaped and
 * sized as Signalpost's. Run in its own process, measured by the same clients as Signalpost, it is what one thread
 * writing N WebSocket frames costs on this machine: the same-run baseline of the subscription latency figures.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { type WebSocket, WebSocketServer } from "ws";

const subscribers = new Map<WebSocket, string[]>();

const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/publish") {
    res.statusCode = 404;
    res.end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const payload = Buffer.concat(chunks).toString("utf8");
    // The shape of Signalpost's eventPublished result for the bench's operation: a UUID-sized id and the event's
    // full body, so the frames are the same size.
    const result = {
      data: {
        eventPublished: {
          eventId: Buffer.from(`Event:${randomUUID()}`).toString("base64"),
          body: JSON.stringify({
            type: "bench.subscription",
            timestamp: new Date().toISOString(),
            data: JSON.parse(payload),
          }),
        },
      },
    };
    for (const [socket, ids] of subscribers) {
      for (const id of ids) socket.send(JSON.stringify({ id, type: "next", payload: result }));
    }
    res.end("ok");
  });
});

const sockets = new WebSocketServer({ server, handleProtocols: (protocols) => [...protocols][0] ?? false });
sockets.on("connection", (socket) => {
  subscribers.set(socket, []);
  socket.on("close", () => subscribers.delete(socket));
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString()) as { type: string; id?: string };
    if (message.type === "connection_init") socket.send(JSON.stringify({ type: "connection_ack" }));
    else if (message.type === "subscribe" && message.id) subscribers.get(socket)?.push(message.id);
    else if (message.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
  });
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
