import { runSignalpost, type SignalpostProcess, servingPort } from "./process.js";
import { type SeededKey, seed, seedEventType } from "./seed.js";
import { TestReceiver } from "./test-receiver.js";

/** A served instance as a newcomer runs it, with what end-to-end tests of it need. */
export interface ServedInstance {
  server: SignalpostProcess;
  baseUrl: string;
  /** A loopback receiver for endpoints (insecure URLs are allowed for it). */
  receiver: TestReceiver;
  /** A tenant's admin key; the tenant has the event type `order.created`. */
  admin: SeededKey;
  close(): Promise<void>;
}

/**
 * `signalpost serve --role all` on this file's database, its output to a pipe as under a process manager (JSON log
 * lines, at debug), plus a receiver and an admin key.
 */
export async function startServedInstance(): Promise<ServedInstance> {
  const server = runSignalpost(["serve", "--role", "all"], {
    DATABASE_URL: process.env.DATABASE_URL,
    PORT: "0",
    HOST: "127.0.0.1",
    SIGNALPOST_ALLOW_INSECURE_URLS: "true",
    LOG_LEVEL: "debug",
  });
  const baseUrl = `http://127.0.0.1:${await servingPort(server)}`;
  const receiver = await TestReceiver.start();
  const admin = await seed.tenantWithKey();
  await seedEventType(admin.tenant.id, "order.created");
  return {
    server,
    baseUrl,
    receiver,
    admin,
    close: async () => {
      server.child.kill("SIGTERM");
      await server.exited;
      await receiver.close();
    },
  };
}
