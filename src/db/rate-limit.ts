import { RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";
import { pool } from "./prisma.js";

/** The outcome of spending from a limit. */
export interface RateDecision {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window frees up again (0 when allowed). */
  retryAfterSeconds: number;
}

/** A fixed-window limit shared by every instance through the `RateLimit` table. */
export interface RateLimit {
  /** The limit's name, which also prefixes its keys in the shared table. */
  readonly name: string;
  /** Spends `points` for `key`; refused once the window's budget is used up. */
  consume(key: string, points?: number): Promise<RateDecision>;
  /** Whether `key` has used up its budget, without spending anything. */
  peek(key: string): Promise<RateDecision>;
}

const limiters = new Map<string, RateLimiterPostgres>();

function decision(result: RateLimiterRes, points: number, allowed: boolean): RateDecision {
  return {
    allowed,
    remaining: Math.max(0, points - result.consumedPoints),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(result.msBeforeNext / 1000)),
  };
}

/**
 * A named limit of `points` per `durationSeconds`, backed by rate-limiter-flexible's PostgreSQL store. The table is
 * created by our migrations (`tableCreated`), so the library never runs DDL at request time.
 */
export function rateLimit(name: string, points: number, durationSeconds: number): RateLimit {
  const id = `${name}:${points}:${durationSeconds}`;
  const limiter = () => {
    let existing = limiters.get(id);
    if (!existing || (existing as unknown as { client: unknown }).client !== pool) {
      existing = new RateLimiterPostgres({
        storeClient: pool,
        storeType: "pool",
        tableName: "RateLimit",
        tableCreated: true,
        clearExpiredByTimeout: true,
        keyPrefix: name,
        points,
        duration: durationSeconds,
      });
      limiters.set(id, existing);
    }
    return existing;
  };
  return {
    name,
    consume: async (key, cost = 1) => {
      try {
        return decision(await limiter().consume(key, cost), points, true);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return decision(rejection, points, false);
        throw rejection;
      }
    },
    peek: async (key) => {
      const state = await limiter().get(key);
      if (!state) return { allowed: true, remaining: points, retryAfterSeconds: 0 };
      return decision(state, points, state.consumedPoints < points);
    },
  };
}
