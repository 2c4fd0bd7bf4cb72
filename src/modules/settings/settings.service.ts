import { ChannelListener } from "../../db/listen.js";
import { prisma } from "../../db/prisma.js";
import { isDatabaseUnavailable } from "../../db/unavailable.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { backoffMs } from "../../lib/backoff.js";
import { parseCidrList } from "../../lib/cidr.js";
import { ForbiddenError, ValidationError } from "../../lib/errors.js";
import type { Logger } from "../../logger.js";
import { recordAudit } from "../audit/audit.service.js";
import { normaliseRetryPolicy } from "../endpoints/retry-policy.js";
import type { RequestOrigin } from "../identity/viewer.js";

/** NOTIFY channel on which a change of the instance settings reaches every process, which applies it live. */
export const SETTINGS_CHANNEL = "signalpost_settings";

/** Settings of the whole installation: only the operator (`instance:admin`) may change them. */
export interface InstanceSettings {
  metricsEnabled: boolean;
  /** 1024-65535 when set through the API (the environment may ask for 0: any free port, for tests). */
  metricsPort: number;
  /** Base of agents' webhook URLs; null means http://localhost:<port>. */
  publicUrl: string | null;
  allowInsecureUrls: boolean;
  allowedPrivateRanges: string[];
  /** Seconds before each retry for endpoints without their own policy. */
  defaultRetryDelays: number[];
}

/** One tenant's settings (`settings:write`). */
export interface TenantSettings {
  attemptRetentionDays: number;
  consoleRetentionDays: number;
  /** The rate limit a new agent gets when none is given. */
  defaultInboundRateLimitPerMinute: number;
}

export const TENANT_DEFAULTS: TenantSettings = {
  attemptRetentionDays: 30,
  consoleRetentionDays: 7,
  defaultInboundRateLimitPerMinute: 100,
};

const INSTANCE_KEYS = [
  "metricsEnabled",
  "metricsPort",
  "publicUrl",
  "allowInsecureUrls",
  "allowedPrivateRanges",
  "defaultRetryDelays",
] as const;
const TENANT_KEYS = ["attemptRetentionDays", "consoleRetentionDays", "defaultInboundRateLimitPerMinute"] as const;

/** What updateSettings accepts: any subset; null puts a setting back to its default. */
export interface SettingsChange {
  metricsEnabled?: boolean | null;
  metricsPort?: number | null;
  publicUrl?: string | null;
  allowInsecureUrls?: boolean | null;
  allowedPrivateRanges?: string[] | null;
  defaultRetryPolicy?: { delaysSeconds: number[]; maxAttempts?: number | null } | null;
  attemptRetentionDays?: number | null;
  consoleRetentionDays?: number | null;
  defaultInboundRateLimitPerMinute?: number | null;
}

function wholeNumberIn(value: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ValidationError(`${field} must be a whole number from ${min} to ${max}`, field);
  return value;
}

function checkUrl(value: string): string {
  const trimmed = value.trim().replace(/\/+$/, "");
  if (!/^https?:\/\//.test(trimmed) || !URL.canParse(trimmed))
    throw new ValidationError("publicUrl must be an absolute http(s) URL", "publicUrl");
  return trimmed;
}

/** Ranges are checked by the one CIDR parser the configuration and the address guard use. */
function checkRanges(ranges: string[]): string[] {
  parseCidrList(ranges, ({ index, message }) => {
    throw new ValidationError(message, `allowedPrivateRanges.${index}`);
  });
  return ranges.map((range) => range.trim());
}

/**
 * Checks a change and splits it into the instance and tenant parts, as stored values (null: back to the default).
 * @throws ValidationError naming the first bad field.
 */
export function validateChange(change: SettingsChange): {
  instance: Partial<Record<(typeof INSTANCE_KEYS)[number], unknown>>;
  tenant: Partial<Record<(typeof TENANT_KEYS)[number], unknown>>;
} {
  const instance: Partial<Record<(typeof INSTANCE_KEYS)[number], unknown>> = {};
  const tenant: Partial<Record<(typeof TENANT_KEYS)[number], unknown>> = {};
  if (change.metricsEnabled !== undefined) instance.metricsEnabled = change.metricsEnabled;
  if (change.metricsPort !== undefined)
    instance.metricsPort =
      change.metricsPort === null ? null : wholeNumberIn(change.metricsPort, 1024, 65535, "metricsPort");
  if (change.publicUrl !== undefined)
    instance.publicUrl = change.publicUrl === null ? null : checkUrl(change.publicUrl);
  if (change.allowInsecureUrls !== undefined) instance.allowInsecureUrls = change.allowInsecureUrls;
  if (change.allowedPrivateRanges !== undefined)
    instance.allowedPrivateRanges =
      change.allowedPrivateRanges === null ? null : checkRanges(change.allowedPrivateRanges);
  if (change.defaultRetryPolicy !== undefined) {
    try {
      instance.defaultRetryDelays =
        change.defaultRetryPolicy === null ? null : normaliseRetryPolicy(change.defaultRetryPolicy);
    } catch (error) {
      if (error instanceof ValidationError)
        throw new ValidationError(error.message, (error.field ?? "").replace("retryPolicy", "defaultRetryPolicy"));
      throw error;
    }
  }
  if (change.attemptRetentionDays !== undefined)
    tenant.attemptRetentionDays =
      change.attemptRetentionDays === null
        ? null
        : wholeNumberIn(change.attemptRetentionDays, 1, 3650, "attemptRetentionDays");
  if (change.consoleRetentionDays !== undefined)
    tenant.consoleRetentionDays =
      change.consoleRetentionDays === null
        ? null
        : wholeNumberIn(change.consoleRetentionDays, 1, 365, "consoleRetentionDays");
  if (change.defaultInboundRateLimitPerMinute !== undefined)
    tenant.defaultInboundRateLimitPerMinute =
      change.defaultInboundRateLimitPerMinute === null
        ? null
        : wholeNumberIn(change.defaultInboundRateLimitPerMinute, 1, 1_000_000, "defaultInboundRateLimitPerMinute");
  return { instance, tenant };
}

/** Stored values merged with a change: keys set to null are dropped (back to the default). */
function merged(stored: unknown, change: Record<string, unknown>): Prisma.InputJsonObject {
  const values: Record<string, unknown> = { ...((stored as Record<string, unknown> | null) ?? {}), ...change };
  for (const key of Object.keys(values)) if (values[key] === null) delete values[key];
  return values as Prisma.InputJsonObject;
}

function pick<T extends object>(defaults: T, stored: unknown): T {
  const values = (stored as Record<string, unknown> | null) ?? {};
  const result = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof T)[]) {
    if (values[key as string] !== undefined) result[key] = values[key as string] as T[keyof T];
  }
  return result;
}

/** The stored instance settings over `defaults` (the environment's values, for every setting nobody has set). */
export async function readInstanceSettings(defaults: InstanceSettings): Promise<InstanceSettings> {
  const row = await prisma.instanceSettings.findUnique({ where: { id: 1 } });
  return pick(defaults, row?.values);
}

export async function readTenantSettings(tenantId: string): Promise<TenantSettings> {
  const row = await prisma.tenantSettings.findUnique({ where: { tenantId } });
  return pick(TENANT_DEFAULTS, row?.values);
}

/** The input fields that change instance-wide settings, as the caller names them. */
const INSTANCE_INPUT_FIELDS = [
  "metricsEnabled",
  "metricsPort",
  "publicUrl",
  "allowInsecureUrls",
  "allowedPrivateRanges",
  "defaultRetryPolicy",
] as const satisfies readonly (keyof SettingsChange)[];

/**
 * Applies a change: tenant settings for the caller's tenant, instance settings only for the operator
 * (`instance:admin`): a tenant's admin must not loosen the URL rules every other tenant relies on. Checked before the
 * values, so a tenant learns nothing from validating values it may not set. Written with its audit entry in one
 * transaction; an instance change is announced to every process (NOTIFY on commit).
 * @throws ForbiddenError naming the first instance field asked for without instance:admin, then ValidationError.
 */
export async function updateSettings(
  tenantId: string,
  change: SettingsChange,
  isOperator: boolean,
  origin: RequestOrigin,
): Promise<void> {
  const refused = isOperator ? undefined : INSTANCE_INPUT_FIELDS.find((field) => change[field] !== undefined);
  if (refused)
    throw new ForbiddenError(
      `${refused} is an instance-wide setting: changing it needs the operator's instance:admin scope`,
      refused,
    );
  const { instance, tenant } = validateChange(change);
  const instanceFields = Object.keys(instance);
  await prisma.$transaction(async (tx) => {
    if (instanceFields.length) {
      const current = await tx.instanceSettings.findUnique({ where: { id: 1 } });
      const values = merged(current?.values, instance);
      await tx.instanceSettings.upsert({ where: { id: 1 }, create: { id: 1, values }, update: { values } });
      await tx.$executeRaw`SELECT pg_notify(${SETTINGS_CHANNEL}, '')`;
    }
    if (Object.keys(tenant).length) {
      const current = await tx.tenantSettings.findUnique({ where: { tenantId } });
      const values = merged(current?.values, tenant);
      await tx.tenantSettings.upsert({ where: { tenantId }, create: { tenantId, values }, update: { values } });
    }
    await recordAudit(
      {
        tenantId,
        ...origin,
        action: "settings.updated",
        target: { type: "Settings", id: instanceFields.length ? "instance" : tenantId },
        metadata: { instance, tenant } as Prisma.InputJsonObject,
      },
      tx,
    );
  });
}

/**
 * Keeps this process in step with the instance settings: reads them at start, and again whenever any process
 * changes them, handing the result to `apply` (which moves the metrics port, swaps the URL rules and so on).
 */
export class InstanceSettingsWatcher {
  private listener: ChannelListener | undefined;
  private current: InstanceSettings | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failedReloads = 0;
  private stopped = false;

  constructor(
    private readonly defaults: InstanceSettings,
    private readonly apply: (settings: InstanceSettings) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  get settings(): InstanceSettings | undefined {
    return this.current;
  }

  async start(databaseUrl: string): Promise<void> {
    // A change made while the connection was down was never announced to us: read the settings again on reconnect.
    this.listener = new ChannelListener(
      databaseUrl,
      SETTINGS_CHANNEL,
      () => void this.reload(),
      this.logger,
      () => void this.reload(),
    );
    await this.listener.start();
    await this.reload();
  }

  async reload(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    try {
      this.current = await readInstanceSettings(this.defaults);
      await this.apply(this.current);
      this.failedReloads = 0;
    } catch (error) {
      // A reload after a reconnect can meet a database that is still coming back: try again (1 s, doubling to 30 s)
      // until it applies, or the process would keep stale URL rules and private ranges until the next change.
      this.failedReloads += 1;
      const log = isDatabaseUnavailable(error) ? this.logger.warn : this.logger.error;
      log.call(this.logger, { err: error }, "could not apply the instance settings; trying again");
      if (this.stopped) return;
      const delayMs = backoffMs(this.failedReloads - 1, { baseMs: 1_000, capMs: 30_000 });
      this.retryTimer = setTimeout(() => void this.reload(), delayMs);
      this.retryTimer.unref();
    }
  }

  /** Applies the settings already read again (something they depend on, such as the bound port, changed). */
  async reapply(): Promise<void> {
    if (this.current) await this.apply(this.current);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.listener?.stop();
  }
}
