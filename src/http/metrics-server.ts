import http from "node:http";
import type { AddressInfo } from "node:net";
import { sendJsonError } from "../lib/json-response.js";
import { registry } from "../lib/metrics.js";
import type { Logger } from "../logger.js";
import type { MetricsListener, MetricsListenerState } from "../modules/settings/live-settings.js";

/**
 * Prometheus `/metrics` on its own port, apart from the API (so it can stay on a private interface). `apply` moves
 * it live when the settings change: the new port is bound before the old one is closed, so a bad port leaves the
 * working listener in place.
 */
export class MetricsServer implements MetricsListener {
  private server: http.Server | undefined;
  private current: MetricsListenerState = { enabled: false, port: 0, boundPort: null, error: null };
  /** Settings changes are applied one after another. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: string,
    private readonly logger: Logger,
  ) {}

  get state(): MetricsListenerState {
    return this.current;
  }

  apply(wanted: { enabled: boolean; port: number }): Promise<void> {
    this.queue = this.queue.then(() => this.move(wanted));
    return this.queue;
  }

  close(): Promise<void> {
    return this.apply({ enabled: false, port: this.current.port });
  }

  private async move(wanted: { enabled: boolean; port: number }): Promise<void> {
    const same = wanted.enabled === this.current.enabled && wanted.port === this.current.port;
    if (same && (this.server || !wanted.enabled)) return;
    if (!wanted.enabled) {
      await this.stop(this.server);
      this.server = undefined;
      this.current = { enabled: false, port: wanted.port, boundPort: null, error: null };
      return;
    }
    try {
      const next = await this.listen(wanted.port);
      await this.stop(this.server);
      this.server = next;
      const boundPort = (next.address() as AddressInfo).port;
      this.current = { enabled: true, port: wanted.port, boundPort, error: null };
      this.logger.info({ port: boundPort }, `Prometheus metrics at http://${this.host}:${boundPort}/metrics`);
    } catch (error) {
      const message = (error as NodeJS.ErrnoException).code === "EADDRINUSE" ? "port in use" : (error as Error).message;
      this.logger.error({ port: wanted.port, err: error }, `metrics listener could not bind port ${wanted.port}`);
      this.current = {
        enabled: true,
        port: wanted.port,
        boundPort: this.server ? this.current.boundPort : null,
        error: `could not listen on ${wanted.port}: ${message}`,
      };
    }
  }

  private listen(port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.host, () => {
        server.off("error", reject);
        resolve(server);
      });
    });
  }

  private async stop(server: http.Server | undefined): Promise<void> {
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      sendJsonError(res, 404, { code: "NOT_FOUND", message: "metrics are at /metrics" });
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendJsonError(res, 405, { code: "METHOD_NOT_ALLOWED", message: "GET /metrics" }, { allow: "GET, HEAD" });
      return;
    }
    try {
      const body = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch (error) {
      this.logger.error({ err: error }, "collecting metrics failed");
      sendJsonError(res, 500, { code: "INTERNAL", message: "collecting metrics failed" });
    }
  }
}
