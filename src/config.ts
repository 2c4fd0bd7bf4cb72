import path from "node:path";
import { z } from "zod";
import { DEFAULT_SOCKET_LIMITS, type SocketLimits } from "./http/connection-guard.js";
import { DEFAULT_MAX_SUBSCRIPTIONS } from "./lib/bounded-feed.js";
import { type CidrRange, parseCidrList } from "./lib/cidr.js";

/** Raised when an environment variable has a value the server cannot use; the CLI prints it and exits 2. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

const port = z.coerce
  .number({ error: "must be a number" })
  .int("must be a whole number")
  .min(0, "must be between 0 and 65535")
  .max(65535, "must be between 0 and 65535");

/** A count of open sockets: at least 1, at most what any process could hold. */
const socketCap = z.coerce
  .number({ error: "must be a number" })
  .int("must be a whole number")
  .min(1, "must be at least 1")
  .max(1_000_000, "must be at most 1000000");
const positiveMs = z.coerce
  .number({ error: "must be a number" })
  .int("must be whole milliseconds")
  .positive("must be positive");

const postgresUrl = z
  .string()
  .trim()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), "must be a postgres:// or postgresql:// URL")
  .refine((value) => URL.canParse(value), "is not a valid URL");

const httpUrl = z
  .string()
  .trim()
  .refine((value) => /^https?:\/\//.test(value) && URL.canParse(value), "must be an absolute http(s) URL");

const environmentSchema = z.object({
  PORT: port.default(4000),
  HOST: z.string().trim().min(1, "must not be empty").default("0.0.0.0"),
  DATABASE_URL: postgresUrl.optional(),
  SIGNALPOST_DATA_DIR: z.string().trim().min(1, "must not be empty").default(".signalpost"),
  SIGNALPOST_PUBLIC_URL: httpUrl.optional(),
  /** Checked in detail by parseMasterKeys, which knows the format. */
  SIGNALPOST_MASTER_KEY: z.string().trim().optional(),
  SIGNALPOST_SESSION_TTL_SECONDS: z.coerce
    .number({ error: "must be a number" })
    .int("must be whole seconds")
    .min(60, "must be at least 60")
    .max(86_400, "must be at most 86400")
    .default(3_600),
  SIGNALPOST_JWKS_URL: httpUrl.optional(),
  SIGNALPOST_JWT_ISSUER: z.string().trim().optional(),
  SIGNALPOST_JWT_AUDIENCE: z.string().trim().optional(),
  SIGNALPOST_JWT_TENANT_CLAIM: z.string().trim().default("signalpost_tenant"),
  SIGNALPOST_JWT_SCOPES_CLAIM: z.string().trim().default("scope"),
  SIGNALPOST_ALLOW_INSECURE_URLS: z.enum(["true", "false"], { error: "must be true or false" }).optional(),
  SIGNALPOST_ALLOWED_PRIVATE_RANGES: z.string().trim().optional(),
  SIGNALPOST_TRUSTED_PROXIES: z.string().trim().max(4_096, "must be at most 4096 characters").optional(),
  SIGNALPOST_AUTO_DISABLE_AFTER_HOURS: z.coerce
    .number({ error: "must be a number" })
    .positive("must be positive")
    .max(24 * 365, "must be at most 8760")
    .default(120),
  SIGNALPOST_DELIVERY_CONCURRENCY: z.coerce
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(1000, "must be at most 1000")
    .default(64),
  SIGNALPOST_DELIVERY_LEASE_GRACE_MS: z.coerce
    .number({ error: "must be a number" })
    .int("must be whole milliseconds")
    .min(500, "must be at least 500")
    .max(600_000, "must be at most 600000")
    .default(30_000),
  SIGNALPOST_MAX_CONNECTIONS: socketCap.default(DEFAULT_SOCKET_LIMITS.maxConnections),
  SIGNALPOST_MAX_CONNECTIONS_PER_ADDRESS: socketCap.default(DEFAULT_SOCKET_LIMITS.maxConnectionsPerAddress),
  SIGNALPOST_MAX_WEBSOCKETS_PER_CREDENTIAL: socketCap.default(DEFAULT_SOCKET_LIMITS.maxWebSocketsPerCredential),
  SIGNALPOST_MAX_SUBSCRIPTIONS: socketCap.default(DEFAULT_MAX_SUBSCRIPTIONS),
  /** The Prometheus listener's starting point; the metricsPort setting overrides it once set (0: any free port). */
  SIGNALPOST_METRICS_PORT: port.default(9100),
  SIGNALPOST_METRICS_ENABLED: z.enum(["true", "false"], { error: "must be true or false" }).default("true"),
  SIGNALPOST_SHUTDOWN_TIMEOUT_MS: positiveMs.max(60_000, "must be at most 60000").default(8_000),
  LOG_LEVEL: z
    .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"], {
      error: "must be one of trace, debug, info, warn, error, fatal, silent",
    })
    .default("info"),
  /** Read by src/logger.ts when it is created; validated here so that a typo is refused instead of ignored. */
  LOG_FORMAT: z.enum(["json", "pretty"], { error: "must be json or pretty" }).optional(),
});

/** Every variable the server's configuration reads (the README's Configuration table lists each; a test checks). */
export const CONFIGURATION_VARIABLES: readonly string[] = Object.keys(environmentSchema.shape);

/** The validated configuration the whole process shares. */
export interface Config {
  port: number;
  host: string;
  /** Set when an external PostgreSQL is used; absent means the embedded one is started. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** SIGNALPOST_PUBLIC_URL without a trailing slash; when unset, `http://localhost:<bound port>` is used. */
  publicUrl: string | undefined;
  shutdownTimeoutMs: number;
  logLevel: z.infer<typeof environmentSchema>["LOG_LEVEL"];
  /** SIGNALPOST_MASTER_KEY as given; resolved into a keyring at start (see lib/master-key.ts). */
  masterKey: string | undefined;
  sessionTtlSeconds: number;
  /** http:// and loopback endpoints allowed; defaults to true only with the embedded database. */
  allowInsecureUrls: boolean;
  /** CIDRs of private ranges endpoints may use. */
  allowedPrivateRanges: string[];
  /** The reverse proxies whose forwarding headers name the client (see http/client-address.ts). */
  trustedProxies: CidrRange[];
  autoDisableAfterHours: number;
  /** How many deliveries one worker sends at once. */
  deliveryConcurrency: number;
  /** Added to an endpoint's timeout to lease a claimed delivery; a dead worker's deliveries return after it. */
  deliveryLeaseGraceMs: number;
  /** Caps of open connections and WebSockets (src/http/server.ts). */
  socketLimits: SocketLimits;
  /** Live subscriptions of one API process, over WebSocket and SSE together. */
  maxSubscriptions: number;
  /** An external identity provider whose JWTs are trusted, when configured. */
  externalJwt: ExternalJwtConfig | undefined;
  /** Defaults for the metrics listener, until the instance settings say otherwise. */
  metricsPort: number;
  metricsEnabled: boolean;
}

export interface ExternalJwtConfig {
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** The claim holding the tenant's slug. */
  tenantClaim: string;
  /** The claim holding scopes: a space-separated string or an array. */
  scopesClaim: string;
}

/**
 * Reads and validates the environment once. Empty strings count as unset, so `PORT= npm start` means the default.
 * @throws ConfigError naming the first variable that is wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue?.path[0] ?? "environment"), issue?.message ?? "is invalid");
  }
  const values = parsed.data;
  if (values.SIGNALPOST_JWKS_URL && !values.SIGNALPOST_JWT_ISSUER) {
    throw new ConfigError("SIGNALPOST_JWT_ISSUER", "is required when SIGNALPOST_JWKS_URL is set");
  }
  if (values.SIGNALPOST_JWKS_URL && !values.SIGNALPOST_JWT_AUDIENCE) {
    throw new ConfigError("SIGNALPOST_JWT_AUDIENCE", "is required when SIGNALPOST_JWKS_URL is set");
  }
  return {
    port: values.PORT,
    host: values.HOST,
    databaseUrl: values.DATABASE_URL,
    dataDir: path.resolve(values.SIGNALPOST_DATA_DIR),
    publicUrl: values.SIGNALPOST_PUBLIC_URL?.replace(/\/+$/, ""),
    shutdownTimeoutMs: values.SIGNALPOST_SHUTDOWN_TIMEOUT_MS,
    logLevel: values.LOG_LEVEL,
    masterKey: values.SIGNALPOST_MASTER_KEY || undefined,
    sessionTtlSeconds: values.SIGNALPOST_SESSION_TTL_SECONDS,
    allowInsecureUrls: values.SIGNALPOST_ALLOW_INSECURE_URLS
      ? values.SIGNALPOST_ALLOW_INSECURE_URLS === "true"
      : !values.DATABASE_URL,
    allowedPrivateRanges: parseRanges("SIGNALPOST_ALLOWED_PRIVATE_RANGES", values.SIGNALPOST_ALLOWED_PRIVATE_RANGES),
    trustedProxies: parsedRanges("SIGNALPOST_TRUSTED_PROXIES", values.SIGNALPOST_TRUSTED_PROXIES),
    autoDisableAfterHours: values.SIGNALPOST_AUTO_DISABLE_AFTER_HOURS,
    deliveryConcurrency: values.SIGNALPOST_DELIVERY_CONCURRENCY,
    deliveryLeaseGraceMs: values.SIGNALPOST_DELIVERY_LEASE_GRACE_MS,
    socketLimits: {
      maxConnections: values.SIGNALPOST_MAX_CONNECTIONS,
      maxConnectionsPerAddress: values.SIGNALPOST_MAX_CONNECTIONS_PER_ADDRESS,
      maxWebSocketsPerCredential: values.SIGNALPOST_MAX_WEBSOCKETS_PER_CREDENTIAL,
    },
    maxSubscriptions: values.SIGNALPOST_MAX_SUBSCRIPTIONS,
    metricsPort: values.SIGNALPOST_METRICS_PORT,
    metricsEnabled: values.SIGNALPOST_METRICS_ENABLED === "true",
    externalJwt: values.SIGNALPOST_JWKS_URL
      ? {
          jwksUrl: values.SIGNALPOST_JWKS_URL,
          issuer: values.SIGNALPOST_JWT_ISSUER as string,
          audience: values.SIGNALPOST_JWT_AUDIENCE as string,
          tenantClaim: values.SIGNALPOST_JWT_TENANT_CLAIM,
          scopesClaim: values.SIGNALPOST_JWT_SCOPES_CLAIM,
        }
      : undefined,
  };
}

/** The variable's comma-separated entries. */
function rangeEntries(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((range) => range.trim())
    .filter(Boolean);
}

/** The variable's ranges, parsed by the parser the settings and the address guard use. @throws ConfigError. */
function parsedRanges(variable: string, value: string | undefined): CidrRange[] {
  return parseCidrList(rangeEntries(value), ({ message }) => {
    throw new ConfigError(variable, message);
  });
}

/** The variable's ranges as written, once checked (the settings store private ranges as text). */
function parseRanges(variable: string, value: string | undefined): string[] {
  parsedRanges(variable, value);
  return rangeEntries(value);
}
