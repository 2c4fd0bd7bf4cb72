import { prisma } from "../../db/prisma.js";
import { createApiKey } from "../api-keys/api-keys.service.js";
import { ensureTenant } from "./tenants.service.js";

/**
 * On the first start of an empty embedded database, creates the `default` tenant and a key holding `admin` and
 * `instance:admin` (whoever starts a fresh install is its operator), so that a newcomer can make an authenticated
 * query and change instance settings at once. Returns the key's token (to print once), or null when the
 * database already has a tenant.
 */
export async function bootstrapFirstTenant(): Promise<{ tenantSlug: string; token: string } | null> {
  if ((await prisma.tenant.count()) > 0) return null;
  const { tenant, created } = await ensureTenant("default", "Default tenant");
  if (!created) return null;
  const { token } = await createApiKey(
    tenant.id,
    { name: "bootstrap admin key", scopes: ["admin", "instance:admin"] },
    { actor: { type: "system", id: null, name: "first start" } },
    null,
  );
  return { tenantSlug: tenant.slug, token };
}
