import { randomBytes } from "node:crypto";
import type { ApiKey, Tenant } from "../../src/generated/prisma/client.js";
import { createApiKey } from "../../src/modules/api-keys/api-keys.service.js";
import { createEventType } from "../../src/modules/event-types/event-types.service.js";
import type { Scope } from "../../src/modules/identity/scopes.js";
import { ensureTenant } from "../../src/modules/tenants/tenants.service.js";

export interface SeededKey {
  tenant: Tenant;
  apiKey: ApiKey;
  /** The full key, as a client sends it. */
  token: string;
  /** `Authorization: Bearer <token>`, ready for a request. */
  headers: Record<string, string>;
}

/** Seed helpers that read like the story: `const { tenant, token } = await seed.tenantWithKey()`. */
export const seed = {
  /** A new tenant (unique slug) with one key holding `scopes` (admin by default). */
  async tenantWithKey(options: { scopes?: Scope[]; slug?: string; expiresAt?: Date } = {}): Promise<SeededKey> {
    const { tenant } = await ensureTenant(options.slug ?? `tenant-${randomBytes(4).toString("hex")}`);
    return seed.keyFor(tenant, options);
  },

  /** Another key for an existing tenant. */
  async keyFor(
    tenant: Tenant,
    options: { scopes?: Scope[]; expiresAt?: Date; name?: string } = {},
  ): Promise<SeededKey> {
    const { apiKey, token } = await createApiKey(
      tenant.id,
      { name: options.name ?? "test key", scopes: options.scopes ?? ["admin"], expiresAt: options.expiresAt ?? null },
      { actor: { type: "system", id: null, name: "test seed" } },
      null,
    );
    return { tenant, apiKey, token, headers: { authorization: `Bearer ${token}` } };
  },
};

/** Creates event types in a tenant directly through the service (optionally with a schema). */
export async function seedEventType(tenantId: string, name: string, schema?: unknown) {
  return createEventType(tenantId, { name, schema }, { actor: { type: "system", id: null, name: "test seed" } });
}
