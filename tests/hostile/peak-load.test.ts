import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SignalpostProcess, startCompiledServer } from "../support/process.js";
import { type SeededKey, seed, seedEventType } from "../support/seed.js";

// The documented maxima against the build `npm start` runs, with its 512 MB heap: a full publishEvents batch
// (100 events of 256 KB) and JSON built to expand (`[[],[],...]`), with a valid key, several at once. Before the
// structural limits and the measured body budget, each of these ended the process with an out-of-memory abort.
/** The bound: the documented maxima at once stay under this resident size. */
const MAX_RSS_BYTES = 600 * 1024 * 1024;
let server: SignalpostProcess;
let baseUrl: string;
let admin: SeededKey;

beforeAll(async () => {
  admin = await seed.tenantWithKey();
  await seedEventType(admin.tenant.id, "bulk.item");
  ({ server, baseUrl } = await startCompiledServer());
}, 120_000);
afterAll(() => {
  server?.child.kill("SIGKILL");
});

/** The server's peak resident set so far (VmHWM), in bytes. */
async function peakRss(): Promise<number> {
  const status = await readFile(`/proc/${server.child.pid}/status`, "utf8");
  const kilobytes = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kilobytes) * 1024;
}

async function post(body: string) {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...admin.headers },
    body,
  });
  return { status: response.status, text: await response.text() };
}

const PUBLISH = `mutation Publish($events: [PublishEventInput!]!) {
  publishEvents(events: $events) {
    __typename
    ... on PublishedEvents { results { event { id } } }
    ... on ValidationError { field message }
  }
}`;

/** A typical API payload of just under 256 KB: records with a few fields each (0.5 M objects in a full batch). */
function typicalPayload(index: number): unknown {
  const record = (id: number) => ({
    id,
    name: `user ${id}`,
    email: `u${id}@example.com`,
    tags: ["a", "b"],
    active: true,
  });
  const records = Array.from({ length: 2_900 }, (_, id) => record(id));
  return { index, records };
}

let uniqueKey = 0;
/**
 * About the costliest payload within the limits: just under 256 KB, 5,000 objects (500,000 in the batch, of the
 * 600,000 allowed) each with a key no other object has (V8 gives each its own hidden class: about 180 bytes
 * apiece), the rest an array of small numbers.
 */
function costliestPayload(index: number): unknown {
  const objects = Array.from({ length: 5_000 }, () => ({ [`k${(uniqueKey++).toString(36)}`]: 1 }));
  const used = JSON.stringify(objects).length;
  return { index, objects, numbers: new Array(Math.floor((256 * 1024 - used - 64) / 2)).fill(7) };
}

async function stillServing() {
  const health = await fetch(`${baseUrl}/healthz`);
  expect(health.status).toBe(200);
}

const SHAPES: [string, (index: number) => unknown][] = [
  ["typical records", typicalPayload],
  ["objects of a key each, and numbers", costliestPayload],
];

function fullBatch(payload: (index: number) => unknown): string {
  return JSON.stringify({
    query: PUBLISH,
    variables: {
      events: Array.from({ length: 100 }, (_, index) => ({ eventType: "bulk.item", payload: payload(index) })),
    },
  });
}

describe("the documented maxima at once fit the heap of npm start's process", () => {
  // Built before any request: building one takes seconds on a loaded machine, and a keep-alive connection left
  // idle that long is closed by the server (5 s) just as the client reuses it for 25 MB (EPIPE on the client).
  const batches = new Map<string, string[]>();
  beforeAll(() => {
    for (const [shape, payload] of SHAPES) batches.set(shape, [fullBatch(payload), fullBatch(payload)]);
  });

  it.each(SHAPES)("two full publishEvents batches (100 events of 256 KB of %s) at once", async (shape) => {
    const bodies = batches.get(shape) ?? [];
    expect(bodies[0]?.length).toBeGreaterThan(25 * 1000 * 1000);
    const answers = await Promise.all(bodies.map((body) => post(body)));
    for (const answer of answers) {
      // Each waits for its share of the heap and is published whole (or, had it waited too long, refused whole
      // with SERVER_BUSY): never a dead process.
      if (answer.status === 503) expect(answer.text).toContain("SERVER_BUSY");
      else {
        expect({ status: answer.status, text: answer.text.slice(0, 300) }).toMatchObject({ status: 200 });
        expect(JSON.parse(answer.text).data.publishEvents.results).toHaveLength(100);
      }
    }
    expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThan(0);
    await stillServing();
    expect(await peakRss()).toBeLessThan(MAX_RSS_BYTES);
  });

  it("a batch denser than the limits (3.3 M small objects in 25 MB) is refused whole, naming the limit", async () => {
    const items = Array.from({ length: (256 * 1024) / 8 - 10 }, () => ({ a: 0 }));
    const events = Array.from({ length: 100 }, () => ({ eventType: "bulk.item", payload: { items } }));
    const answer = await post(JSON.stringify({ query: PUBLISH, variables: { events } }));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text).errors[0].extensions).toMatchObject({
      code: "JSON_TOO_COMPLEX",
      limit: 600_000,
      field: "body",
    });
    await stillServing();
  });

  it("two concurrent 29 MB bodies of nested empty arrays with a key are refused before they expand", async () => {
    const arrays = `[${"[],".repeat((29 * 1024 * 1024) / 3 - 2)}[]]`;
    const body = `{"query":"query($v: JSON!) { __typename }","variables":{"v":${arrays}}}`;
    const answers = await Promise.all([post(body), post(body)]);
    for (const answer of answers) {
      expect([400, 503]).toContain(answer.status);
      if (answer.status === 400) expect(answer.text).toContain("JSON_TOO_COMPLEX");
    }
    await stillServing();
    expect(await peakRss()).toBeLessThan(MAX_RSS_BYTES);
  });

  it("a body nested deeper than the limit is refused with the limit", async () => {
    const body = `{"query":"{ __typename }","variables":{"v":${"[".repeat(10_000)}${"]".repeat(10_000)}}}`;
    const answer = await post(body);
    expect(answer.status).toBe(400);
    const error = JSON.parse(answer.text).errors[0];
    expect(error.extensions).toMatchObject({ code: "JSON_TOO_DEEP", limit: expect.any(Number) });
  });

  it("the process never died", () => {
    expect({ exitCode: server.child.exitCode, signalCode: server.child.signalCode }).toEqual({
      exitCode: null,
      signalCode: null,
    });
  });
});
