import pg from "pg";
import type { Logger } from "../logger.js";

/** NOTIFY channel on which publishing (and anything else that makes deliveries due now) wakes idle workers. */
export const DELIVERIES_CHANNEL = "signalpost_deliveries";
/** NOTIFY channel on which accepted inbound webhooks wake the execution workers. */
export const EXECUTIONS_CHANNEL = "signalpost_executions";

/**
 * A dedicated connection LISTENing on a channel; reconnects after losing the server. Notifications only shorten
 * waits: workers also poll, so a missed one costs latency, never a delivery.
 */
export class ChannelListener {
  private client: pg.Client | undefined;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
    private readonly onNotify: (payload: string | undefined) => void,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: "signalpost-listen" });
    client.on("notification", (message) => this.onNotify(message.payload));
    client.on("error", (error) => {
      this.logger.warn({ err: error, channel: this.channel }, "lost the notification connection; reconnecting");
      this.client = undefined;
      void client.end().catch(() => undefined);
      if (!this.stopped) setTimeout(() => void this.start().catch(() => undefined), 1_000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${client.escapeIdentifier(this.channel)}`);
    this.client = client;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
