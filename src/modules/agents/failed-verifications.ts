import { isIPv6 } from "node:net";
import { SharedWindowBudget } from "../../lib/shared-window.js";

/**
 * Failed verifications (bad or missing signature, stale timestamp, replayed id) per source address and minute,
 * counted apart from the agents' budgets: forged traffic is refused with 429 at its own address and never spends the
 * budget of the agent it targets, so whoever knows an agent's URL cannot block its real sender.
 */
export const MAX_FAILED_VERIFICATIONS_PER_MINUTE = 60;

/** Counted in this process, shared with the others through the RateLimit table (see SharedWindowBudget). */
const failures = new SharedWindowBudget("inbound-failed-verification");

/**
 * The key an address is counted under: an IPv4 address as is (also when IPv4-mapped), an IPv6 address by its /64,
 * the smallest block a host is usually given (counting single IPv6 addresses would let one host rotate through
 * billions of them).
 */
export function sourceKey(address: string | null): string {
  if (!address) return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head = "", tail] = address.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  // An embedded IPv4 tail (`::1.2.3.4`) lies past the first 64 bits, so it never reaches the key.
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups =
    tail === undefined ? headGroups : [...headGroups, ...Array(Math.max(missing, 0)).fill("0"), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(":")}::/64`;
}

/** Whether the address is over its failed-verification limit: answered 429 before anything is checked. */
export function failedVerificationsExceeded(address: string | null): { exceeded: boolean; retryAfterSeconds: number } {
  const decision = failures.peek(sourceKey(address), MAX_FAILED_VERIFICATIONS_PER_MINUTE);
  return { exceeded: !decision.allowed, retryAfterSeconds: decision.retryAfterSeconds };
}

/** Counts one failed verification against the address. */
export async function recordFailedVerification(address: string | null): Promise<void> {
  await failures.spend(sourceKey(address), MAX_FAILED_VERIFICATIONS_PER_MINUTE);
}
