import { ApiKeysDocument, RevokeApiKeyDocument } from "../../clients/typescript/src/index.js";
import { allPages, expectResult, idFromNameOrId, parseRemote } from "./remote.js";
import { UsageError } from "./usage-error.js";

/** `signalpost keys list [--all]`: the API keys of the caller's tenant, through the server. */
export async function listKeys(args: string[]): Promise<void> {
  const { remote, values, positionals } = parseRemote(args, { all: { type: "boolean", default: false } });
  if (positionals.length) throw new UsageError("keys list takes no arguments");
  const keys = await allPages(
    async (after) =>
      (await remote.client.request(ApiKeysDocument, { first: 100, after, includeRevoked: values.all === true }))
        .apiKeys,
  );
  for (const key of keys)
    remote.print(
      [key.id, key.name, key.status, key.maskedKey, key.scopes.join(","), key.lastUsedAt ?? "never used"].join("  "),
      key,
    );
  if (!remote.json) remote.note(`${keys.length} key${keys.length === 1 ? "" : "s"}`);
}

/** `signalpost keys revoke <id or name>`: revokes one API key of the caller's tenant, through the server. */
export async function revokeKey(args: string[]): Promise<void> {
  const { remote, positionals } = parseRemote(args, {});
  const [given] = positionals;
  if (!given || positionals.length > 1) throw new UsageError("give exactly one key id or name");
  const id = await idFromNameOrId("API key", given, () =>
    allPages(
      async (after) =>
        (await remote.client.request(ApiKeysDocument, { first: 100, after, includeRevoked: false })).apiKeys,
    ),
  );
  const { revokeApiKey } = await remote.client.request(RevokeApiKeyDocument, { id });
  const revoked = expectResult(revokeApiKey, "ApiKey");
  remote.print(`Revoked API key ${revoked.id} "${revoked.name}"`, { id: revoked.id, revokedAt: revoked.revokedAt });
}
