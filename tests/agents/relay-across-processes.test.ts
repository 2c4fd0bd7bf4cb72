import { randomBytes } from "node:crypto";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { allJobs } from "../../src/jobs/index.js";
import { type JobQueue, startJobQueue } from "../../src/jobs/kit/queue.js";

import { logger } from "../../src/logger.js";
import { type RunningApiServer, startApiServer, startSubscriptions } from "../support/api-server.js";
import { execute } from "../support/graphql.js";
import { uuidOf } from "../support/ids.js";
import { postSignedWebhook } from "../support/inbound.js";
import { runSignalpost, type SignalpostProcess } from "../support/process.js";
import { seed } from "../support/seed.js";
import { subscribersJoined } from "../support/subscribers.js";

// This process plays the API (it only enqueues); a separate `serve --role worker` process runs the relay action.
let api: RunningApiServer;
let sender: JobQueue;
let worker: SignalpostProcess;
let stopSubscriptions: () => Promise<void>;
beforeAll(async () => {
  stopSubscriptions = await startSubscriptions();
  sender = await startJobQueue(process.env.DATABASE_URL as string, allJobs, logger, { work: false });
  api = await startApiServer(undefined, { jobs: sender });
  worker = runSignalpost(["serve", "--role", "worker"], { DATABASE_URL: process.env.DATABASE_URL });
  await worker.waitForLog((line) => line.msg === "job queue started");
});
afterAll(async () => {
  worker.child.kill("SIGTERM");
  await worker.exited;
  await sender.stop(1_000);
  await stopSubscriptions();
  await api.close();
});

describe("relay across processes", () => {
  it("an event produced by a worker process reaches a subscription held on the API process", async () => {
    const { headers } = await seed.tenantWithKey();
    const created = await execute<{ createAgent: { secret: string; agent: { id: string } } }>(
      `mutation { createAgent(input: { name: "laptop", status: ACTIVE, actions: [{ type: "relay" }] }) {
        ... on CreatedAgent { secret agent { id } } } }`,
      {},
      headers,
    );
    const { secret, agent } = created.data?.createAgent ?? { secret: "", agent: { id: "" } };
    const client = createClient({
      url: api.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: headers.authorization },
    });
    const first = new Promise<{ body: string }>((resolve, reject) => {
      client.subscribe<{ agentWebhookReceived: { body: string } }>(
        {
          query: `subscription ($id: ID!) { agentWebhookReceived(agentId: $id) { body } }`,
          variables: { id: agent.id },
        },
        {
          next: (result) =>
            result.data ? resolve(result.data.agentWebhookReceived) : reject(new Error(JSON.stringify(result.errors))),
          error: reject,
          complete: () => undefined,
        },
      );
    });
    await subscribersJoined("agent:webhook", uuidOf(agent.id));
    const body = `{"from":"production","n":${randomBytes(2).readUInt16BE()}}`;
    const response = await postSignedWebhook(api.httpUrl, agent.id, secret, body);
    expect(response.status).toBe(202);
    expect((await first).body).toBe(body);
    await client.dispose();
  }, 30_000);
});
