import { createRequire } from "node:module";
import { type DestinationStream, pino } from "pino";
import { currentRequestId } from "./lib/request-context.js";

/** The two ways logs are written: one JSON object per line (for machines), or coloured lines (for people). */
export type LogFormat = "json" | "pretty";

/**
 * LOG_FORMAT when set (json or pretty), otherwise pretty in a terminal and JSON when stdout is a pipe or a file, so
 * log collectors always get JSON and a person running `npm start` gets readable lines.
 */
export function chooseLogFormat(env: NodeJS.ProcessEnv = process.env, isTTY = process.stdout.isTTY): LogFormat {
  if (env.LOG_FORMAT === "json" || env.LOG_FORMAT === "pretty") return env.LOG_FORMAT;
  return isTTY ? "pretty" : "json";
}

/**
 * pino-pretty in this thread, written synchronously (a terminal reader, not a hot log pipe; a transport would
 * start a worker thread). Loaded only for the pretty format, so the JSON path pays nothing for it.
 */
function prettyDestination(): DestinationStream {
  const require = createRequire(import.meta.url);
  const pretty = require("pino-pretty") as typeof import("pino-pretty");
  return pretty({
    colorize: process.stdout.isTTY === true,
    sync: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,service",
  });
}

/**
 * The process-wide structured logger (JSON lines on stdout, or pretty lines, see chooseLogFormat). Secrets are
 * redacted by key name as a second line of defence; code should never pass them in the first place.
 */
export const logger = pino(
  {
    // The CLI sets the configured level once the environment is validated (see cli.ts); tests keep it quiet.
    level: process.env.VITEST ? "silent" : "info",
    base: { service: "signalpost" },
    // Every line written while a request runs names it (see lib/request-context.ts).
    mixin: () => {
      const requestId = currentRequestId();
      return requestId === undefined ? {} : { requestId };
    },
    redact: { paths: ["*.secret", "*.password", "*.authorization", "*.apiKey", "*.token"], censor: "[redacted]" },
  },
  chooseLogFormat() === "pretty" ? prettyDestination() : undefined,
);

export type Logger = typeof logger;
