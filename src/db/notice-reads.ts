import DataLoader from "dataloader";
import { NotFoundError, subscriptionError } from "../lib/errors.js";
import { prisma } from "./prisma.js";

/**
 * "Read once, send many" for subscriptions. A notice (an id and a few fields, see pubsub.ts) reaches every subscriber
 * of its topic in this process as one and the same object, and each subscriber's resolver used to read the row it
 * names on its own: 200 subscribers meant 200 identical queries per notice. Resolvers now ask for the row through the
 * notice: the first subscriber's request starts one batched read, the others share its promise.
 *
 * Every key carries the subscriber's own tenant, and the read filters on it, so tenancy stays what each subscriber's
 * own query enforced: a row of another tenant is not found, whoever read first. The key also carries the
 * subscriber's Prisma selection (what @pothos/plugin-prisma asks for, relations included), so a row is loaded exactly
 * as that selection needs it and relation fields resolve from it; subscribers running the same operation (the usual
 * case: one client's subscription document) share one read, a different selection costs one more.
 *
 * The cache lives as long as the notice: a new notice reads again (a delivery's later state is never served from an
 * earlier one), and nothing has to be cleared once every subscriber has had it.
 */

/** The models subscription payloads are read from. */
type Model = "event" | "delivery" | "endpoint" | "agentExecution";

/** A Prisma selection as a prismaField resolver receives it (`{}`, `{ include }` or `{ select }`). */
type Selection = { include?: object; select?: object };

interface ReadKey {
  model: Model;
  tenantId: string;
  id: string;
  selection: Selection;
}

type Row = { id: string };
type Reads = DataLoader<ReadKey, Row | null, string>;

const readsOfNotice = new WeakMap<object, Reads>();

const groupOf = (key: ReadKey) => JSON.stringify([key.model, key.tenantId, key.selection]);

function findMany(model: Model, args: object): Promise<Row[]> {
  // The four delegates share findMany's shape; the selection is Pothos's, typed per model where the row is used.
  const delegate = prisma[model] as unknown as { findMany(args: object): Promise<Row[]> };
  return delegate.findMany(args);
}

/** Rows are matched back to keys by id, so a narrowed selection must still carry it. */
function withId(selection: Selection): Selection {
  return selection.select ? { ...selection, select: { ...selection.select, id: true } } : selection;
}

async function readBatch(keys: readonly ReadKey[]): Promise<(Row | null)[]> {
  const groups = new Map<string, ReadKey[]>();
  for (const key of keys) {
    const group = groupOf(key);
    const members = groups.get(group);
    if (members) members.push(key);
    else groups.set(group, [key]);
  }
  const found = new Map<string, Row>();
  await Promise.all(
    [...groups].map(async ([group, members]) => {
      const [first] = members as [ReadKey];
      const rows = await findMany(first.model, {
        ...withId(first.selection),
        where: { id: { in: [...new Set(members.map((member) => member.id))] }, tenantId: first.tenantId },
      });
      for (const row of rows) found.set(`${group}#${row.id}`, row);
    }),
  );
  return keys.map((key) => found.get(`${groupOf(key)}#${key.id}`) ?? null);
}

function newReads(): Reads {
  return new DataLoader(readBatch, {
    cacheKeyFn: (key) => `${groupOf(key)}#${key.id}`,
    // Subscribers resolve a notice over a few turns of the event loop (each pulls it from its own queue): waiting for
    // the next macrotask gathers all of them, and every item of a batched notification, into one read.
    batchScheduleFn: (send) => setImmediate(send),
  });
}

/**
 * Makes the items of one notification share their reads (one query per model, tenant and selection for all of them):
 * the subscription hub calls it as a notification arrives, before handing the items to subscribers.
 */
export function shareNoticeReads(items: readonly unknown[]): void {
  const reads = newReads();
  for (const item of items) if (typeof item === "object" && item !== null) readsOfNotice.set(item, reads);
}

function readsOf(notice: object): Reads {
  let reads = readsOfNotice.get(notice);
  if (!reads) {
    // A notice that came another way (a replay from the database) reads for itself, shared by no one.
    reads = newReads();
    readsOfNotice.set(notice, reads);
  }
  return reads;
}

/** The row `id` of `model` in the subscriber's tenant, read once per notice and selection; null when there is none. */
export function readForNotice<T>(
  notice: object,
  key: { model: Model; tenantId: string; id: string; selection?: Selection },
): Promise<T | null> {
  return readsOf(notice).load({ ...key, selection: key.selection ?? {} }) as Promise<T | null>;
}

/**
 * {@link readForNotice} for a row the notice promises. When there is none in the subscriber's tenant (deleted since,
 * or another tenant's), that one event is a NOT_FOUND error and the subscription goes on.
 */
export async function requireForNotice<T>(
  notice: object,
  key: { model: Model; tenantId: string; id: string; selection?: Selection },
  what: string,
): Promise<T> {
  const row = await readForNotice<T>(notice, key);
  if (!row) throw subscriptionError(new NotFoundError(`No ${what} with that id`));
  return row;
}
