import type { AddressPolicy } from "../../lib/address-guard.js";

/** Instance-wide rules for outbound requests, set at start-up (and changed live by settings). */
export interface OutboundSettings {
  /** http:// and loopback addresses allowed: true on a developer's embedded setup, false in production. */
  allowInsecureUrls: boolean;
  /** Private ranges (CIDRs) endpoints may point at anyway. */
  allowedPrivateRanges: string[];
  /** An endpoint failing continuously for this long is disabled. */
  autoDisableAfterMs: number;
  /** The retry schedule of endpoints without their own (seconds before each retry). */
  defaultRetryDelays: readonly number[];
}

/**
 * This instance's outbound rules in force: built once by the app context (createInstance) from the instance settings'
 * defaults, then moved by the live settings. Everything that saves an endpoint, connects to one or schedules a retry
 * reads them here.
 */
export class OutboundRules {
  #current: OutboundSettings;

  constructor(initial: OutboundSettings) {
    this.#current = { ...initial };
  }

  /** Replaces the rules given; the others stay. */
  apply(change: Partial<OutboundSettings>): void {
    this.#current = { ...this.#current, ...change };
  }

  get settings(): Readonly<OutboundSettings> {
    return this.#current;
  }

  /** Which addresses deliveries may connect to, checked at save time and again at connect time. */
  addressPolicy(): AddressPolicy {
    const { allowInsecureUrls, allowedPrivateRanges } = this.#current;
    return { allowLoopback: allowInsecureUrls, allowPrivate: false, allowlist: allowedPrivateRanges };
  }

  /** The save-time URL rules: the address policy plus https unless insecure URLs are allowed. */
  urlPolicy(): AddressPolicy & { requireHttps: boolean } {
    return { ...this.addressPolicy(), requireHttps: !this.#current.allowInsecureUrls };
  }

  /** The delays an endpoint uses: its own list (possibly empty: no retries), or the instance's default schedule. */
  effectiveDelays(endpoint: { retrySchedule: readonly number[]; retryPolicyCustom: boolean }): readonly number[] {
    return endpoint.retryPolicyCustom ? endpoint.retrySchedule : this.#current.defaultRetryDelays;
  }
}
