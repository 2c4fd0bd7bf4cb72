import { isCidrProblem, parseCidr } from "../../lib/cidr.js";
import type { PublicUrls } from "../../lib/public-url.js";
import type { Logger } from "../../logger.js";
import type { OutboundRules } from "../endpoints/outbound-rules.js";
import { type InstanceSettings, InstanceSettingsWatcher } from "./settings.service.js";

export interface MetricsListenerState {
  enabled: boolean;
  /** The port asked for. */
  port: number;
  /** The port bound, or null when disabled or the port could not be bound (see `error`). */
  boundPort: number | null;
  error: string | null;
}

/**
 * The metrics listener the settings move (src/http/metrics-server.ts is the one): handed in, so that settings do not
 * import the HTTP layer.
 */
export interface MetricsListener {
  readonly state: MetricsListenerState;
  apply(wanted: { enabled: boolean; port: number }): Promise<void>;
  close(): Promise<void>;
}

/** The process's settings in force: the watcher that follows changes, and the metrics listener it moves. */
export interface LiveSettings {
  watcher: InstanceSettingsWatcher;
  metrics: MetricsListener;
  stop(): Promise<void>;
}

/**
 * Applies the instance settings to this process now and on every later change (from any process): the URL rules
 * for endpoints, the default retry schedule, the public URL, and the metrics listener's port.
 */
export async function startLiveSettings(options: {
  databaseUrl: string;
  /** The environment's values, for every setting nobody has stored. */
  defaults: InstanceSettings;
  /** The outbound rules and URLs this process uses, moved to the settings now and on every change. */
  outboundRules: OutboundRules;
  urls: PublicUrls;
  /** The metrics listener to move to the configured port; closed by `stop`. */
  metrics: MetricsListener;
  /** This process's own address, the public URL when none is set. */
  localUrl: () => string;
  selfUrl: () => string | undefined;
  logger: Logger;
}): Promise<LiveSettings> {
  const { metrics } = options;
  const apply = async (settings: InstanceSettings) => {
    // Stored by an older version with a laxer check: the address guard leaves such a range out (allowing less).
    const unusable = settings.allowedPrivateRanges.filter((range) => isCidrProblem(parseCidr(range)));
    if (unusable.length)
      options.logger.warn({ ranges: unusable }, "allowedPrivateRanges holds entries that are not ranges; ignored");
    options.outboundRules.apply({
      allowInsecureUrls: settings.allowInsecureUrls,
      allowedPrivateRanges: settings.allowedPrivateRanges,
      defaultRetryDelays: settings.defaultRetryDelays,
    });
    options.urls.configure({ publicUrl: settings.publicUrl ?? options.localUrl(), selfUrl: options.selfUrl() });
    await metrics.apply({ enabled: settings.metricsEnabled, port: settings.metricsPort });
  };
  const watcher = new InstanceSettingsWatcher(options.defaults, apply, options.logger);
  await watcher.start(options.databaseUrl);
  return {
    watcher,
    metrics,
    stop: async () => {
      await watcher.stop();
      await metrics.close();
    },
  };
}
