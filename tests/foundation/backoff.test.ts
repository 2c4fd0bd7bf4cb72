import { describe, expect, it } from "vitest";
import { backoffMs } from "../../src/lib/backoff.js";

describe("backoffMs", () => {
  it("doubles from the base per failure and stops at the cap", () => {
    const waits = [0, 1, 2, 3, 4, 5, 10].map((failures) => backoffMs(failures, { baseMs: 250, capMs: 5_000 }));
    expect(waits).toEqual([250, 500, 1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it("with jitter, picks from the upper half of the wait, never past the cap", () => {
    const waits = Array.from({ length: 200 }, () => backoffMs(3, { baseMs: 250, capMs: 1_500, jitter: true }));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(750);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1_500);
    expect(new Set(waits).size).toBeGreaterThan(1);
  });
});
