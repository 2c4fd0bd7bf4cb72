import { describe, expect, it } from "vitest";
import { groupCommit } from "../../src/lib/group-commit.js";

describe("groupCommit", () => {
  it("writes items that arrive during a write together in the next one, results in order", async () => {
    const batches: number[][] = [];
    const submit = groupCommit(async (items: number[]) => {
      batches.push(items);
      // A write that takes a while, as a real one does (the others are all submitted before it ends, in one tick,
      // so the batches do not depend on how long it takes).
      await new Promise((resolve) => setTimeout(resolve, 10));
      return items.map((item) => item * 2);
    });
    const results = await Promise.all([1, 2, 3, 4, 5].map((item) => submit(item)));
    expect(results).toEqual([2, 4, 6, 8, 10]);
    // The first starts a write alone; the four that arrived meanwhile share the next one.
    expect(batches).toEqual([[1], [2, 3, 4, 5]]);
  });

  it("starts a new write for an item submitted by a caller woken by the previous batch", async () => {
    const submit = groupCommit(async (items: string[]) => items.map((item) => `${item}!`));
    // Submitting again right after the first result (no await in between) must not wait forever.
    const second = await submit("a").then(() => submit("b"));
    expect(second).toBe("b!");
  });

  it("rejects every item of a failed batch and goes on with the next", async () => {
    let calls = 0;
    const submit = groupCommit(async (items: number[]) => {
      calls += 1;
      if (calls === 1) throw new Error("disk full");
      return items;
    });
    await expect(submit(1)).rejects.toThrow("disk full");
    await expect(submit(2)).resolves.toBe(2);
  });

  it("writes each item of a failed batch alone when the error may be one item's own, so only that caller fails", async () => {
    const batches: number[][] = [];
    const submit = groupCommit(
      async (items: number[]) => {
        batches.push(items);
        // A write that takes a while (as in the first test), so that 2, 3 and 4 arrive during the write of 1.
        await new Promise((resolve) => setTimeout(resolve, 10));
        if (items.includes(3)) throw new Error("item 3 is bad");
        return items.map((item) => item * 2);
      },
      200,
      (error) => error instanceof Error && error.message.includes("bad"),
    );
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map((item) => submit(item)));
    expect(outcomes.map((outcome) => (outcome.status === "fulfilled" ? outcome.value : "rejected"))).toEqual([
      2,
      4,
      "rejected",
      8,
    ]);
    // 1 alone; 2, 3, 4 together (failed); then each alone.
    expect(batches).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });
});
