import { isIPv6 } from "node:net";
import { SharedWindowBudget } from "../../db/shared-window.js";
import { ipv6Groups, normaliseAddress } from "../../lib/address-guard.js";

/**
 * Failed verifications (bad or missing signature, stale timestamp, replayed id) per agent, source address and minute,
 * counted apart from the agents' budgets: forged traffic is refused with 429 at its own address and never spends the
 * budget of the agent it targets, so whoever knows an agent's URL cannot block its real sender.
 */
export const MAX_FAILED_VERIFICATIONS_PER_MINUTE = 60;

/** Counted in this process, shared with the others through the RateLimit table (see SharedWindowBudget). */
const failures = new SharedWindowBudget("inbound-failed-verification");

/**
 * The key an address is counted under: an IPv4 address as is (also when IPv4-mapped, in any notation), an IPv6
 * address by its /64, the smallest block a host is usually given (counting single IPv6 addresses would let one host
 * rotate through billions of them).
 */
export function sourceKey(address: string | null): string {
  if (!address) return "unknown";
  const normalised = normaliseAddress(address);
  if (!isIPv6(normalised)) return normalised;
  return `${ipv6Groups(normalised.toLowerCase())
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}

/**
 * Counted per agent and address: senders that share an address (a provider's webhook egress, a NAT, a proxy) are
 * blocked from an agent only by failures against that same agent. Only failures against an existing agent are
 * counted (an unknown agent is 404, not a failed verification), so made-up agent ids create no counters.
 */
function counterKey(agentId: string, address: string | null): string {
  return `${agentId}|${sourceKey(address)}`;
}

/** Whether the address is over its failed-verification limit for this agent: answered 429 before anything else. */
export function failedVerificationsExceeded(
  agentId: string,
  address: string | null,
): { exceeded: boolean; retryAfterSeconds: number } {
  const decision = failures.peek(counterKey(agentId, address), MAX_FAILED_VERIFICATIONS_PER_MINUTE);
  return { exceeded: !decision.allowed, retryAfterSeconds: decision.retryAfterSeconds };
}

/** Counts one failed verification against the address, for this agent. */
export async function recordFailedVerification(agentId: string, address: string | null): Promise<void> {
  await failures.spend(counterKey(agentId, address), MAX_FAILED_VERIFICATIONS_PER_MINUTE);
}
