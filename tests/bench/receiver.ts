/**
 * The benchmark's webhook receiver, in its own process so that it does not share an event loop with the sender it
 * measures. Answers 200 at once, counts requests, keeps a few raw samples for signature checks, and records
 * publish-to-receipt latency when the body carries `data.sentAt` (epoch ms, same machine clock).
 */
import http from "node:http";

let received = 0;
const latencies: number[] = [];
const samples: { headers: http.IncomingHttpHeaders; body: string }[] = [];

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ received, latencies, samples }));
    return;
  }
  if (req.method === "POST" && req.url === "/reset") {
    received = 0;
    latencies.length = 0;
    samples.length = 0;
    res.end("ok");
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const now = Date.now();
    received += 1;
    const body = Buffer.concat(chunks).toString("utf8");
    if (samples.length < 5) samples.push({ headers: req.headers, body });
    if (body.includes('"sentAt"')) {
      try {
        const sentAt = JSON.parse(body).data?.sentAt;
        if (typeof sentAt === "number") latencies.push(now - sentAt);
      } catch {
        // Not ours: counted, not timed.
      }
    }
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
