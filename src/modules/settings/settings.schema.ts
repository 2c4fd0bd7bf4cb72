import { builder } from "../../builder.js";
import { originOf } from "../../graphql/context.js";
import { ForbiddenError, ValidationError } from "../../lib/errors.js";
import type { PublicUrls } from "../../lib/public-url.js";
import { RetryPolicy, RetryPolicyInput } from "../endpoints/endpoints.schema.js";
import { grants, INSTANCE_ADMIN } from "../identity/scopes.js";
import type { MetricsListener, MetricsListenerState } from "./live-settings.js";
import {
  type InstanceSettings,
  readInstanceSettings,
  readTenantSettings,
  type TenantSettings,
  updateSettings,
} from "./settings.service.js";

declare module "../../graphql/context.js" {
  interface ContextServices {
    /** This process's metrics listener, which the live settings move (absent in a server without them). */
    metrics?: MetricsListener;
    /** Where this instance is reached (agents' webhook URLs), as the live settings last set it. */
    urls: PublicUrls;
    /** The environment's instance settings, in force wherever nobody has stored a value. */
    instanceDefaults: InstanceSettings;
  }
}

const MetricsListenerType = builder.objectRef<MetricsListenerState>("MetricsListener").implement({
  description: "The Prometheus listener of the process that answered (each process serves its own /metrics).",
  fields: (t) => ({
    enabled: t.exposeBoolean("enabled", {
      description: "Whether metrics are asked for (the metricsEnabled setting as this process applied it).",
    }),
    port: t.exposeInt("port", { description: "The port asked for." }),
    boundPort: t.exposeInt("boundPort", { nullable: true, description: "The port listening now, if any." }),
    error: t.exposeString("error", { nullable: true, description: "Why the asked-for port is not listening." }),
  }),
});

const InstanceSettingsType = builder.objectRef<InstanceSettings>("InstanceSettings").implement({
  description:
    "Settings of the whole installation, readable by every tenant they apply to. Changing them needs the operator's instance:admin scope (no tenant key has it); they apply live.",
  fields: (t) => ({
    metricsEnabled: t.exposeBoolean("metricsEnabled", {
      description: "Whether every process serves Prometheus metrics at /metrics on metricsPort.",
    }),
    metricsPort: t.exposeInt("metricsPort", { description: "Where /metrics listens (1024-65535)." }),
    metricsListener: t.field({
      type: MetricsListenerType,
      nullable: true,
      description: "This process's listener, as it is now (null on a process that serves no metrics).",
      resolve: (_settings, _args, context) => context.services.metrics?.state ?? null,
    }),
    publicUrl: t.string({
      description: "The base of agents' webhook URLs (the configured one, else this server's address).",
      resolve: (settings, _args, context) => settings.publicUrl ?? context.services.urls.publicUrl(),
    }),
    allowInsecureUrls: t.exposeBoolean("allowInsecureUrls", {
      description: "Endpoints may use http:// and loopback addresses (a developer's setup, never production).",
    }),
    allowedPrivateRanges: t.exposeStringList("allowedPrivateRanges", {
      description: "Private ranges (CIDRs) endpoints may point at anyway.",
    }),
    defaultRetryPolicy: t.field({
      type: RetryPolicy,
      description: "The schedule of endpoints without their own retry policy.",
      resolve: (settings) => ({ delays: settings.defaultRetryDelays, isDefault: true }),
    }),
  }),
});

const TenantSettingsType = builder.objectRef<TenantSettings>("TenantSettings").implement({
  description: "Settings of the caller's tenant (scope settings:write to change).",
  fields: (t) => ({
    attemptRetentionDays: t.exposeInt("attemptRetentionDays", {
      description: "Delivery attempts older than this are deleted by the retention job.",
    }),
    consoleRetentionDays: t.exposeInt("consoleRetentionDays", {
      description: "Console events older than this are deleted (and can no longer be replayed with `after`).",
    }),
    defaultInboundRateLimitPerMinute: t.exposeInt("defaultInboundRateLimitPerMinute", {
      description: "The rate limit a new agent gets when none is given.",
    }),
  }),
});

interface SettingsView {
  instance: InstanceSettings;
  tenant: TenantSettings;
}

const SettingsType = builder.objectRef<SettingsView>("Settings").implement({
  description:
    "The settings that apply to the caller: the whole instance's (changed only by operators) and the caller's tenant's.",
  fields: (t) => ({
    instance: t.field({
      type: InstanceSettingsType,
      description: "The whole installation's settings (changed only with instance:admin).",
      resolve: (settings) => settings.instance,
    }),
    tenant: t.field({
      type: TenantSettingsType,
      description: "The caller's tenant's settings.",
      resolve: (settings) => settings.tenant,
    }),
  }),
});

async function settingsOf(tenantId: string, defaults: InstanceSettings): Promise<SettingsView> {
  const [instance, tenant] = await Promise.all([readInstanceSettings(defaults), readTenantSettings(tenantId)]);
  return { instance, tenant };
}

builder.queryField("settings", (t) =>
  t.withAuth({ scope: "settings:read" }).field({
    description: "The settings that apply to the caller: the tenant's, and the instance's.",
    type: SettingsType,
    resolve: (_root, _args, context) => settingsOf(context.viewer.tenantId, context.services.instanceDefaults),
  }),
);

const UpdateSettingsInput = builder.inputType("UpdateSettingsInput", {
  description:
    "Only the fields given change; null puts a setting back to its default. Instance fields need instance:admin (FORBIDDEN naming the field otherwise).",
  fields: (t) => ({
    metricsEnabled: t.boolean({ required: false, description: "Turns /metrics on or off in every process, live." }),
    metricsPort: t.int({ required: false, description: "1024-65535; the listener moves without a restart." }),
    publicUrl: t.string({
      required: false,
      description: "An absolute http(s) URL, the base of agents' webhook URLs; a trailing slash is dropped.",
    }),
    allowInsecureUrls: t.boolean({
      required: false,
      description: "Lets endpoints use http:// and loopback addresses (a developer's setup, never production).",
    }),
    allowedPrivateRanges: t.stringList({
      required: false,
      description: "Private ranges in CIDR notation (e.g. 10.0.0.0/8) endpoints may point at; replaces the whole list.",
    }),
    defaultRetryPolicy: t.field({
      type: RetryPolicyInput,
      required: false,
      description: "The schedule of endpoints without their own retry policy.",
    }),
    attemptRetentionDays: t.int({ required: false, description: "1-3650." }),
    consoleRetentionDays: t.int({ required: false, description: "1-365." }),
    defaultInboundRateLimitPerMinute: t.int({ required: false, description: "1-1000000." }),
  }),
});

builder.mutationField("updateSettings", (t) =>
  t.withAuth({ scope: "settings:write" }).field({
    description:
      "Changes settings: tenant settings with settings:write, instance settings only with instance:admin (ForbiddenError otherwise). Applied live.",
    type: SettingsType,
    errors: { types: [ValidationError, ForbiddenError] },
    args: { input: t.arg({ type: UpdateSettingsInput }) },
    resolve: async (_root, { input }, context) => {
      const { viewer } = context;
      // GraphQL passes absent fields as undefined and explicit nulls as null, which is the distinction we need.
      await updateSettings(viewer.tenantId, input, grants(viewer.scopes, INSTANCE_ADMIN), originOf(context));
      return settingsOf(viewer.tenantId, context.services.instanceDefaults);
    },
  }),
);
