import { pino } from "pino";

/**
 * The process-wide structured logger (JSON lines on stdout). Secrets are redacted by key name as a second line of
 * defence; code should never pass them in the first place.
 */
export const logger = pino({
  // The CLI sets the configured level once the environment is validated (see cli.ts); tests keep it quiet.
  level: process.env.VITEST ? "silent" : "info",
  base: { service: "signalpost" },
  redact: { paths: ["*.secret", "*.password", "*.authorization", "*.apiKey", "*.token"], censor: "[redacted]" },
});

export type Logger = typeof logger;
