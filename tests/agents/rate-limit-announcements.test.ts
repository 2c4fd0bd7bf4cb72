import { describe, expect, it } from "vitest";
import { recentRateLimitAnnouncements, shouldAnnounceRateLimit } from "../../src/modules/agents/inbound.js";

describe("rate-limit announcements", () => {
  it("are remembered for a bounded number of agents (a flood across many agents does not grow memory)", () => {
    const agents = Array.from({ length: 20_001 }, (_, index) => `agent-${index}`);
    for (const agent of agents) expect(shouldAnnounceRateLimit(agent)).toBe(true);

    expect(recentRateLimitAnnouncements.size).toBeLessThanOrEqual(10_000);
    // The most recent ones are still throttled: their next refusal within the window is not announced again.
    expect(shouldAnnounceRateLimit(agents[20_000] as string)).toBe(false);
  });
});
