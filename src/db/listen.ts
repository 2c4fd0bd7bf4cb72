import pg from "pg";
import { backoffMs } from "../lib/backoff.js";
import type { Logger } from "../logger.js";

/** NOTIFY channel on which publishing (and anything else that makes deliveries due now) wakes idle workers. */
export const DELIVERIES_CHANNEL = "signalpost_deliveries";
/** NOTIFY channel on which accepted inbound webhooks wake the execution workers. */
export const EXECUTIONS_CHANNEL = "signalpost_executions";

/** First wait before reconnecting; doubled after every failed attempt up to the cap, each with jitter. */
const RECONNECT_BASE_MS = 250;
const RECONNECT_CAP_MS = 5_000;

interface Subscriber {
  channel: string;
  onNotify: (payload: string | undefined) => void;
  /** Called after every reconnect: notifications sent while the connection was down were lost; catch up. */
  onReconnect?: () => void;
}

/**
 * The process's one LISTEN connection to a database, shared by every channel (it used to be one per channel, five
 * per process). It reconnects for as long as anyone listens: after any loss (server restart, a terminated backend, a
 * cut network) it retries with capped, jittered exponential backoff, LISTENs every channel again, and then tells
 * each subscriber to catch up, since notifications sent in the gap are gone. Notifications only shorten waits and
 * trigger reloads; what they announce is always in the tables, which is where consumers catch up from.
 */
class NotificationConnection {
  private readonly subscribers = new Set<Subscriber>();
  private client: pg.Client | undefined;
  private listening = new Set<string>();
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private lostAt: number | undefined;
  private closed = false;
  /** Counts the connections made: what was learnt before a loss belongs to an older one. */
  private generation = 0;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
    private readonly onEmpty: () => void,
  ) {}

  /** Adds a subscriber; the first one connects (and rejects when the database cannot be reached at all). */
  async add(subscriber: Subscriber): Promise<void> {
    this.subscribers.add(subscriber);
    if (!this.client && !this.connecting && !this.retryTimer) {
      try {
        await this.connect();
      } catch (error) {
        this.subscribers.delete(subscriber);
        throw error;
      }
      return;
    }
    await this.connecting;
    await this.listenAll().catch(() => undefined);
  }

  /** The current connection's number while it LISTENs on `channel`; undefined while its notifications go unheard. */
  hearing(channel: string): number | undefined {
    return this.client !== undefined && this.listening.has(channel) ? this.generation : undefined;
  }

  async remove(subscriber: Subscriber): Promise<void> {
    this.subscribers.delete(subscriber);
    const stillUsed = [...this.subscribers].some((other) => other.channel === subscriber.channel);
    if (!stillUsed && this.client && this.listening.has(subscriber.channel)) {
      this.listening.delete(subscriber.channel);
      await this.client.query(`UNLISTEN ${this.client.escapeIdentifier(subscriber.channel)}`).catch(() => undefined);
    }
    if (this.subscribers.size === 0) await this.close();
  }

  private async close(): Promise<void> {
    this.closed = true;
    // Forgotten first, so a listener starting meanwhile opens a fresh connection instead of this closing one.
    this.onEmpty();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connecting = (async () => {
      const client = new pg.Client({
        connectionString: this.databaseUrl,
        application_name: "signalpost-listen",
        keepAlive: true,
        connectionTimeoutMillis: 10_000,
      });
      client.on("notification", (message) => {
        for (const subscriber of this.subscribers)
          if (subscriber.channel === message.channel) subscriber.onNotify(message.payload);
      });
      // 'error' (a terminated backend, a reset socket) and 'end' (the server closed it) both mean: gone.
      client.on("error", () => this.lost(client));
      client.on("end", () => this.lost(client));
      try {
        await client.connect();
        this.client = client;
        this.generation += 1;
        this.listening = new Set();
        await this.listenAll();
      } catch (error) {
        this.client = undefined;
        await client.end().catch(() => undefined);
        throw error;
      }
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** LISTENs every channel somebody subscribed to, in one round trip. */
  private async listenAll(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const missing = [...new Set([...this.subscribers].map((subscriber) => subscriber.channel))].filter(
      (channel) => !this.listening.has(channel),
    );
    if (missing.length === 0) return;
    await client.query(missing.map((channel) => `LISTEN ${client.escapeIdentifier(channel)};`).join(" "));
    for (const channel of missing) this.listening.add(channel);
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    this.lostAt = Date.now();
    void client.end().catch(() => undefined);
    this.logger.warn("lost the notification connection; reconnecting");
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const delay = backoffMs(this.failures, { baseMs: RECONNECT_BASE_MS, capMs: RECONNECT_CAP_MS, jitter: true });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().then(
        () => this.restored(),
        () => {
          this.failures += 1;
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.retryTimer.unref();
  }

  private restored(): void {
    if (this.closed) return;
    this.logger.info(
      { afterMs: this.lostAt === undefined ? undefined : Date.now() - this.lostAt, attempts: this.failures + 1 },
      "notification connection restored",
    );
    this.failures = 0;
    this.lostAt = undefined;
    for (const subscriber of this.subscribers) {
      try {
        subscriber.onReconnect?.();
      } catch (error) {
        this.logger.warn({ err: error, channel: subscriber.channel }, "catching up after a reconnect failed");
      }
    }
  }
}

/** One shared connection per database URL in this process. */
const connections = new Map<string, NotificationConnection>();

function connectionFor(databaseUrl: string, logger: Logger): NotificationConnection {
  let connection = connections.get(databaseUrl);
  if (!connection) {
    connection = new NotificationConnection(databaseUrl, logger, () => connections.delete(databaseUrl));
    connections.set(databaseUrl, connection);
  }
  return connection;
}

/**
 * LISTENs on one channel over the process's shared notification connection (see NotificationConnection).
 * `onReconnect` runs after every reconnect so that the consumer catches up with what it missed. Notifications only
 * shorten waits: workers also poll, so a missed one costs latency, never a delivery.
 */
export class ChannelListener {
  private readonly subscriber: Subscriber;
  private connection: NotificationConnection | undefined;

  constructor(
    private readonly databaseUrl: string,
    channel: string,
    onNotify: (payload: string | undefined) => void,
    private readonly logger: Logger,
    onReconnect?: () => void,
  ) {
    this.subscriber = { channel, onNotify, onReconnect };
  }

  /** Starts listening; rejects when the database cannot be reached now (start-up fails fast). */
  async start(): Promise<void> {
    const connection = connectionFor(this.databaseUrl, this.logger);
    await connection.add(this.subscriber);
    this.connection = connection;
  }

  /**
   * While this channel's notifications are heard, the number of the connection hearing them (a new one after every
   * reconnect); undefined from the moment the connection is known lost until it is back and LISTENing. A consumer
   * that trusts what it holds only while it hears of changes keeps what it learnt with this number.
   */
  get hearing(): number | undefined {
    return this.connection?.hearing(this.subscriber.channel);
  }

  async stop(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.remove(this.subscriber);
  }
}
