import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pool } from "../../src/db/prisma.js";
import { SharedWindowBudget } from "../../src/db/shared-window.js";
import { until } from "../support/wait.js";

describe("SharedWindowBudget", () => {
  it("is exact within one instance and shares what it spent with another after a sync", async () => {
    const key = randomUUID();
    const first = new SharedWindowBudget("test-budget", 60_000, 20);
    const spent = [];
    for (let n = 0; n < 4; n += 1) spent.push((await first.spend(key, 3)).allowed);
    expect(spent).toEqual([true, true, true, false]);
    const refused = await first.spend(key, 3);
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);

    // Another process (a second instance of the class) sees the three once they are synced to the table.
    await until(
      async () => (await pool.query(`SELECT points FROM "RateLimit" WHERE key = $1`, [`test-budget:${key}`])).rows[0],
      (row) => row?.points === 3,
      "the sync",
    );
    const second = new SharedWindowBudget("test-budget", 60_000, 20);
    expect((await second.spend(key, 4)).allowed).toBe(true);
    expect((await second.spend(key, 4)).allowed).toBe(false);
  });
});
