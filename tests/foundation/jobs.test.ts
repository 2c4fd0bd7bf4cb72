import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineJob, type JobContext } from "../../src/jobs/kit/define-job.js";
import { type JobQueue, prepareJobQueues, startJobQueue } from "../../src/jobs/kit/queue.js";
import { logger } from "../../src/logger.js";

interface Seen {
  data: { word: string; times: number };
  retryCount: number;
}

const seen: Seen[] = [];
let waiters: (() => void)[] = [];
const record = (context: JobContext<{ word: string; times: number }>) => {
  seen.push({ data: context.data, retryCount: context.retryCount });
  for (const wake of waiters.splice(0)) wake();
};

const echo = defineJob({
  name: "test.echo",
  schema: z.object({ word: z.string().min(1), times: z.number().int().default(1) }),
  batchSize: 5,
  handle: async (context) => record(context),
});

const flaky = defineJob({
  name: "test.flaky",
  schema: z.object({ word: z.string(), times: z.number().int() }),
  queue: { retryLimit: 2, retryDelay: 0 },
  handle: async (context) => {
    record(context);
    if (context.retryCount < 1) throw new Error("first try fails");
  },
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, 200);
    });
  }
}

let queue: JobQueue;
beforeAll(async () => {
  queue = await startJobQueue(process.env.DATABASE_URL as string, [echo, flaky], logger);
});
afterAll(async () => {
  waiters = [];
  await queue.stop(1_000);
});

describe("job kit on pg-boss", () => {
  it("delivers the validated payload, with defaults applied, to the handler", async () => {
    await echo.send(queue.boss, { word: "hello" });
    await until(() => seen.some((item) => item.data.word === "hello"), "the echo job");
    expect(seen.find((item) => item.data.word === "hello")).toEqual({
      data: { word: "hello", times: 1 },
      retryCount: 0,
    });
  });

  it("refuses an invalid payload at send time, naming the field, and enqueues nothing", async () => {
    await expect(echo.send(queue.boss, { word: "" })).rejects.toThrow(/word/);
    const counts = await queue.boss.getQueueSize("test.echo");
    expect(counts).toBe(0);
  });

  it("retries a job whose handler throws, with the attempt number in the context", async () => {
    await flaky.send(queue.boss, { word: "again", times: 2 });
    await until(() => seen.filter((item) => item.data.word === "again").length >= 2, "the retry");
    expect(seen.filter((item) => item.data.word === "again").map((item) => item.retryCount)).toEqual([0, 1]);
  });

  it("reports healthy until stopped", () => {
    expect(queue.isHealthy()).toBe(true);
  });

  it("retires a queue with jobs in every state, and a missing one without complaint", async () => {
    const retired = "test.retired";
    await queue.boss.createQueue(retired);
    await queue.boss.insert([{ name: retired }, { name: retired }, { name: retired }]);
    const [active, done] = await queue.boss.fetch(retired, { batchSize: 2 });
    await queue.boss.complete(retired, done?.id as string);
    expect(active).toBeDefined();
    await prepareJobQueues(process.env.DATABASE_URL as string, [], [retired, "test.never-existed"]);
    expect(await queue.boss.getQueue(retired)).toBeNull();
  });

  it("runs on the pg-boss major whose job table the kit deletes from (queue.ts retireQueue)", () => {
    // A new major may change the job table: read retireQueue again before raising this.
    const { version } = createRequire(import.meta.url)("pg-boss/package.json") as { version: string };
    expect(version.split(".")[0]).toBe("10");
  });
});
