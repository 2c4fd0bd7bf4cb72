import http from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the receiver saw it: raw body bytes and lower-cased headers. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  receivedAt: number;
}

/** How the receiver answers; change it between (or during) tests. */
export interface ReceiverBehaviour {
  status: number;
  /** Wait this long before answering (to provoke timeouts). */
  latencyMs: number;
  body: string;
  headers: Record<string, string>;
}

const DEFAULT_BEHAVIOUR: ReceiverBehaviour = { status: 200, latencyMs: 0, body: "ok", headers: {} };

/**
 * A webhook receiver on loopback: records every request and answers with the configured status, latency and body.
 * `respondWith` can also take a function of the request number, for "fail twice then succeed" stories.
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  private behaviour: ReceiverBehaviour | ((requestNumber: number) => Partial<ReceiverBehaviour>) = DEFAULT_BEHAVIOUR;
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private waiters: { count: number; resolve: () => void }[] = [];

  /** Starts listening on a free loopback port. */
  static async start(): Promise<TestReceiver> {
    const receiver = new TestReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  respondWith(behaviour: Partial<ReceiverBehaviour> | ((requestNumber: number) => Partial<ReceiverBehaviour>)): void {
    this.behaviour = typeof behaviour === "function" ? behaviour : { ...DEFAULT_BEHAVIOUR, ...behaviour };
  }

  /** Resolves once `count` requests in total have arrived (or rejects after `timeoutMs`). */
  waitForRequests(count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    if (this.requests.length >= count) return Promise.resolve(this.requests.slice(0, count));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} requests, got ${this.requests.length} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.requests.slice(0, count));
        },
      });
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      this.requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
        receivedAt: Date.now(),
      });
      const behaviour =
        typeof this.behaviour === "function"
          ? { ...DEFAULT_BEHAVIOUR, ...this.behaviour(this.requests.length) }
          : this.behaviour;
      this.waiters = this.waiters.filter((waiter) => {
        if (this.requests.length < waiter.count) return true;
        waiter.resolve();
        return false;
      });
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(behaviour.status, { "content-type": "text/plain", ...behaviour.headers });
        res.end(behaviour.body);
      };
      if (behaviour.latencyMs > 0) setTimeout(answer, behaviour.latencyMs);
      else answer();
    });
  }
}
