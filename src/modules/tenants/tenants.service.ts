import { prisma } from "../../db/prisma.js";
import type { Tenant } from "../../generated/prisma/client.js";
import { ValidationError } from "../../lib/errors.js";

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Returns the tenant with this slug, creating it (named after the slug unless a name is given) if needed. */
export async function ensureTenant(slug: string, name?: string): Promise<{ tenant: Tenant; created: boolean }> {
  if (!SLUG.test(slug)) {
    throw new ValidationError(
      "a tenant slug is 1-63 lower-case letters, digits and dashes, not starting or ending with a dash",
      "tenant",
    );
  }
  const existing = await prisma.tenant.findUnique({ where: { slug } });
  if (existing) return { tenant: existing, created: false };
  // Concurrent callers may race; the unique slug decides, and the loser reads the winner's row.
  const inserted = await prisma.tenant.createManyAndReturn({
    data: [{ slug, name: name ?? slug }],
    skipDuplicates: true,
  });
  const tenant = inserted[0] ?? (await prisma.tenant.findUniqueOrThrow({ where: { slug } }));
  return { tenant, created: inserted.length > 0 };
}
