import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { named } from "../../src/db/prepared.js";
import { withTransaction } from "../../src/db/transaction.js";

describe("named SQL parameters", () => {
  it("turns names into positions once per text, a name used twice taking one position", () => {
    const query = named("SELECT $a::int + $b::int + $a::int, '{1}'::int[]", { b: 2, a: 1 });
    expect(query.text).toBe("SELECT $1::int + $2::int + $1::int, '{1}'::int[]");
    expect(query.values).toEqual([1, 2]);
    expect(named("SELECT $a::int + $b::int + $a::int, '{1}'::int[]", { a: 5, b: 6 }).name).toBe(query.name);
  });

  it("refuses a statement whose parameter has no value", () => {
    expect(() => named("SELECT $missing::int", {})).toThrow("$missing");
  });
});

describe("withTransaction", () => {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  afterAll(() => pool.end());

  it("commits what the work wrote, and rolls back all of it when the work throws", async () => {
    await pool.query("CREATE TABLE tx_probe (n int)");
    await withTransaction(pool, (client) => client.query("INSERT INTO tx_probe VALUES (1)"));
    await expect(
      withTransaction(pool, async (client) => {
        await client.query("INSERT INTO tx_probe VALUES (2)");
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    const { rows } = await pool.query("SELECT n FROM tx_probe");
    expect(rows).toEqual([{ n: 1 }]);
  });

  it("gives the pool no connection the server killed mid-transaction", async () => {
    await expect(
      withTransaction(pool, async (client) => {
        await client.query("SELECT pg_terminate_backend(pg_backend_pid())");
      }),
    ).rejects.toThrow();
    // Every later transaction gets a live connection.
    for (let i = 0; i < 3; i += 1) {
      await expect(withTransaction(pool, (client) => client.query("SELECT 1"))).resolves.toBeTruthy();
    }
  });
});
