import type { AddressPolicy } from "../../lib/address-guard.js";

/** Instance-wide rules for outbound requests, installed at start-up (and changed live by settings). */
export interface OutboundSettings {
  /** http:// and loopback addresses allowed: true on a developer's embedded setup, false in production. */
  allowInsecureUrls: boolean;
  /** Private ranges (CIDRs) endpoints may point at anyway. */
  allowedPrivateRanges: string[];
  /** An endpoint failing continuously for this long is disabled. */
  autoDisableAfterMs: number;
}

let current: OutboundSettings = {
  allowInsecureUrls: false,
  allowedPrivateRanges: [],
  autoDisableAfterMs: 5 * 24 * 3600 * 1000,
};

export function configureOutbound(settings: Partial<OutboundSettings>): void {
  current = { ...current, ...settings };
}

export function outboundSettings(): OutboundSettings {
  return current;
}

/** Which addresses deliveries may connect to, checked at save time and again at connect time. */
export function addressPolicy(): AddressPolicy {
  return { allowLoopback: current.allowInsecureUrls, allowPrivate: false, allowlist: current.allowedPrivateRanges };
}

/** The save-time URL rules: the address policy plus https unless insecure URLs are allowed. */
export function urlPolicy(): AddressPolicy & { requireHttps: boolean } {
  return { ...addressPolicy(), requireHttps: !current.allowInsecureUrls };
}
