import { afterAll, describe, expect, it } from "vitest";
import { JsonataSandbox, TransformError } from "../../src/lib/jsonata-sandbox.js";

// The pool itself: failed evaluations must hand their healthy child back, or every failing transform would leave one
// live process behind (found in review: 7 children after 7 failures of a pool of 2).
const sandbox = new JsonataSandbox({
  size: 2,
  timeoutMs: 250,
  stack: 200,
  heapMb: 64,
  killAfterMs: 2_000,
  maxResultChars: 1_000,
});
afterAll(() => sandbox.stop());

describe("the transform sandbox's pool", () => {
  it("keeps at most its size of processes through failing and succeeding evaluations", async () => {
    expect(await sandbox.evaluate("a + 1", { a: 1 })).toBe(2);
    for (let round = 0; round < 5; round += 1) {
      await expect(sandbox.evaluate('$number("x")', {})).rejects.toBeInstanceOf(TransformError);
      await expect(sandbox.evaluate('$pad("", 5000, "x")', {})).rejects.toMatchObject({
        code: "TRANSFORM_RESULT_TOO_LARGE",
      });
    }
    await Promise.all(Array.from({ length: 6 }, () => expect(sandbox.evaluate('$number("x")', {})).rejects.toThrow()));
    expect(await sandbox.evaluate("a * 2", { a: 21 })).toBe(42);
    expect(sandbox.processCount).toBeLessThanOrEqual(2);
  });

  it("replaces a child it had to kill, and stays within its size", async () => {
    await expect(sandbox.evaluate("$count([1..10000000])", {})).rejects.toMatchObject({
      code: expect.stringMatching(/TRANSFORM_(MEMORY_LIMIT|TIMEOUT)/),
    });
    expect(await sandbox.evaluate("a", { a: "still here" })).toBe("still here");
    expect(sandbox.processCount).toBeLessThanOrEqual(2);
  });
});
