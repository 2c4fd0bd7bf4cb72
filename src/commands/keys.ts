import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { migrate } from "../db/migrator.js";
import { connectPrisma, disconnectPrisma } from "../db/prisma.js";
import { toGlobalId } from "../lib/ids.js";
import { generateMasterKey } from "../lib/master-key.js";
import { logger } from "../logger.js";
import { createApiKey } from "../modules/api-keys/api-keys.service.js";
import { isScope, SCOPES } from "../modules/identity/scopes.js";
import { ensureTenant } from "../modules/tenants/tenants.service.js";
import { withSharedDatabase } from "./shared-database.js";
import { UsageError } from "./usage-error.js";

/** `signalpost keys ...`. Works on the embedded database too, alongside a running server. */
export async function keysCommand(args: string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  if (subcommand === "master") {
    parseArgs({ args: rest, options: {}, strict: true });
    process.stdout.write(`${generateMasterKey()}\n`);
    return;
  }
  if (subcommand !== "create")
    throw new UsageError(`unknown keys command "${subcommand ?? ""}" (see: signalpost keys --help)`);
  const { values } = parseArgs({
    args: rest,
    options: {
      tenant: { type: "string" },
      name: { type: "string" },
      scopes: { type: "string" },
      "expires-in-days": { type: "string" },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  for (const required of ["tenant", "name", "scopes"] as const) {
    if (!values[required]) throw new UsageError(`--${required} is required (see: signalpost keys create --help)`);
  }
  const days = values["expires-in-days"] === undefined ? undefined : Number(values["expires-in-days"]);
  if (days !== undefined && (!Number.isInteger(days) || days < 1))
    throw new UsageError("--expires-in-days must be a whole number of days, at least 1");

  const scopes = (values.scopes as string)
    .split(",")
    .map((scope) => scope.trim())
    .filter(Boolean);
  const unknown = scopes.find((scope) => !isScope(scope));
  if (unknown) throw new UsageError(`unknown scope "${unknown}"; valid scopes: ${SCOPES.join(", ")}`);

  const config = loadConfig();
  logger.level = config.logLevel === "info" ? "warn" : config.logLevel;
  await withSharedDatabase(config, async (database) => {
    try {
      await migrate(database.url, logger);
      connectPrisma(database.url, 2);
      const { tenant, created } = await ensureTenant(values.tenant as string);
      const { apiKey, token } = await createApiKey(
        tenant.id,
        {
          name: values.name as string,
          scopes,
          expiresAt: days ? new Date(Date.now() + days * 86_400_000) : null,
        },
        { actor: { type: "cli", id: null, name: "signalpost keys create" } },
        null,
      );
      if (values.json) {
        process.stdout.write(
          `${JSON.stringify({ tenant: tenant.slug, tenantCreated: created, id: toGlobalId("ApiKey", apiKey.id), scopes: apiKey.scopes, expiresAt: apiKey.expiresAt, key: token })}\n`,
        );
      } else {
        process.stdout.write(
          `${created ? `Created tenant "${tenant.slug}".\n` : ""}API key "${apiKey.name}" (${apiKey.scopes.join(", ")}) for tenant "${tenant.slug}". Shown only once:\n\n  ${token}\n\n`,
        );
      }
    } finally {
      await disconnectPrisma();
    }
  });
}
