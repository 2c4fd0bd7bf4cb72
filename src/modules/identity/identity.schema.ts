import { builder } from "../../builder.js";
import { SCOPES, type Scope, scopeEnumName } from "./scopes.js";

const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  admin: "Everything in the tenant. Not instance-wide settings: those need INSTANCE_ADMIN.",
  "instance:admin":
    "The installation's operator: change instance-wide settings (URL rules, private ranges, metrics, public URL, default retry policy). Granted only by the CLI and to the first key of a fresh install; implies settings:read and settings:write.",
  "keys:read": "List API keys.",
  "keys:write": "Create and revoke API keys (only with scopes the creator holds).",
  "audit:read": "Read the audit log.",
  "endpoints:read": "Read endpoints and their health.",
  "endpoints:write": "Create, change, enable, disable and delete endpoints.",
  "events:publish": "Publish events.",
  "deliveries:read": "Read deliveries and attempts.",
  "deliveries:write": "Retry deliveries and recover endpoints.",
  "agents:read": "Read agents and their executions.",
  "agents:write": "Create, change and delete agents.",
  "secrets:reveal": "Reveal endpoint and agent secrets.",
  "console:read": "Subscribe to the integration console.",
  "settings:read": "Read the tenant's and the instance's settings.",
  "settings:write": "Change settings.",
};

/** The `Scope` enum, shared by the auth and API-key schemas. */
export const ScopeEnum = builder.enumType("Scope", {
  description:
    "A permission an API key, session or external token carries. ADMIN implies all of them but INSTANCE_ADMIN.",
  values: Object.fromEntries(
    SCOPES.map((scope) => [
      scopeEnumName(scope),
      { value: scope, description: `\`${scope}\`: ${SCOPE_DESCRIPTIONS[scope]}` },
    ]),
  ) as Record<string, { value: Scope; description: string }>,
});
