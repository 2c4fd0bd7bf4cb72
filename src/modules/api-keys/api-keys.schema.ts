import { builder } from "../../builder.js";
import { prisma } from "../../db/prisma.js";
import type { ApiKey } from "../../generated/prisma/client.js";
import { originOf } from "../../graphql/context.js";
import { pageSize } from "../../graphql/pagination.js";
import { ForbiddenError, NotFoundError, ValidationError } from "../../lib/errors.js";
import { localId } from "../../lib/ids.js";
import { ScopeEnum } from "../identity/identity.schema.js";
import { isScope } from "../identity/scopes.js";
import { displayPrefix } from "./api-key-token.js";
import { createApiKey, findApiKey, revokeApiKey } from "./api-keys.service.js";

const ApiKeyStatus = builder.enumType("ApiKeyStatus", {
  description: "Whether an API key still authenticates.",
  values: {
    ACTIVE: { description: "Valid: requests with it are accepted." },
    EXPIRED: { description: "Its expiresAt has passed: refused with UNAUTHENTICATED." },
    REVOKED: { description: "Revoked (revokeApiKey): refused with UNAUTHENTICATED." },
  } as const,
});

export const ApiKeyType = builder.prismaNode("ApiKey", {
  id: { field: "id" },
  description: "An API credential. Its secret is shown once, at creation; listings show a mask.",
  fields: (t) => ({
    name: t.exposeString("name", {
      description: "The key's name, to tell keys apart (1-100 characters).",
    }),
    prefix: t.string({
      description: "The start of the key, e.g. sp_1a2b3c4d.",
      resolve: (key) => displayPrefix(key.id),
    }),
    lastChars: t.exposeString("lastChars", { description: "The key's last four characters." }),
    maskedKey: t.string({
      description: "The key as listings show it: its prefix, an ellipsis and its last four characters.",
      resolve: (key) => `${displayPrefix(key.id)}…${key.lastChars}`,
    }),
    scopes: t.field({
      description: "What the key may do; `admin` implies every scope but `instance:admin`.",
      type: [ScopeEnum],
      resolve: (key) => key.scopes.filter(isScope),
    }),
    status: t.field({
      description: "Whether the key still authenticates: ACTIVE, EXPIRED or REVOKED.",
      type: ApiKeyStatus,
      resolve: (key) =>
        key.revokedAt ? "REVOKED" : key.expiresAt && key.expiresAt <= new Date() ? "EXPIRED" : "ACTIVE",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastUsedAt: t.expose("lastUsedAt", {
      type: "DateTime",
      nullable: true,
      description: "Updated at most once a minute.",
    }),
    expiresAt: t.expose("expiresAt", {
      description: "When the key stops working; null for a key that does not expire.",
      type: "DateTime",
      nullable: true,
    }),
    revokedAt: t.expose("revokedAt", {
      description: "When the key was revoked; null while it is not.",
      type: "DateTime",
      nullable: true,
    }),
  }),
});

builder.queryField("apiKeys", (t) =>
  t.withAuth({ scope: "keys:read" }).prismaConnection(
    {
      type: "ApiKey",
      cursor: "id",
      ...pageSize({ defaultSize: 20, maxSize: 100 }),
      description: "The tenant's API keys, newest first.",
      args: {
        includeRevoked: t.arg.boolean({
          defaultValue: true,
          description: "Also list revoked keys; false lists only the keys not revoked.",
        }),
      },
      resolve: (query, _root, args, context) =>
        prisma.apiKey.findMany({
          ...query,
          where: { tenantId: context.viewer.tenantId, ...(args.includeRevoked ? {} : { revokedAt: null }) },
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        }),
    },
    { name: "ApiKeyConnection" },
    { name: "ApiKeyEdge" },
  ),
);

builder.queryField("apiKey", (t) =>
  t.withAuth({ scope: "keys:read" }).prismaField({
    description: "One API key of the caller's tenant (never its secret).",
    type: "ApiKey",
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id() },
    resolve: (query, _root, args, context) =>
      findApiKey(context.viewer.tenantId, localId("ApiKey", args.id), prisma, query),
  }),
);

const CreateApiKeyInput = builder.inputType("CreateApiKeyInput", {
  description: "A new API key: its name, scopes and optional expiry.",
  fields: (t) => ({
    name: t.string({ description: "1-100 characters, to tell keys apart." }),
    scopes: t.field({
      type: [ScopeEnum],
      description: "Only scopes the caller holds can be granted; INSTANCE_ADMIN never (the CLI grants it).",
    }),
    expiresAt: t.field({
      type: "DateTime",
      required: false,
      description: "Within 5 years; never expires when omitted.",
    }),
  }),
});

const CreatedApiKey = builder.objectRef<{ apiKey: ApiKey; token: string }>("CreatedApiKey").implement({
  description: "A new key with its secret. Store the secret now: it is not kept and cannot be shown again.",
  fields: (t) => ({
    apiKey: t.field({
      description: "The new key's record (never its secret).",
      type: ApiKeyType,
      resolve: (created) => created.apiKey,
    }),
    secret: t.exposeString("token", { description: "The full key, sent as `Authorization: Bearer <secret>`." }),
  }),
});

builder.mutationField("createApiKey", (t) =>
  t.withAuth({ scope: "keys:write" }).field({
    description:
      "Creates an API key with the given scopes (at most the caller's own); the answer carries the token, shown this once.",
    type: CreatedApiKey,
    errors: { types: [ValidationError, ForbiddenError] },
    args: { input: t.arg({ type: CreateApiKeyInput }) },
    resolve: (_root, { input }, context) => {
      const { viewer } = context;
      return createApiKey(
        viewer.tenantId,
        { name: input.name, scopes: input.scopes, expiresAt: input.expiresAt ?? null },
        originOf(context),
        viewer.scopes,
      );
    },
  }),
);

builder.mutationField("revokeApiKey", (t) =>
  t.withAuth({ scope: "keys:write" }).field({
    type: ApiKeyType,
    errors: { types: [NotFoundError] },
    description: "Revokes a key on every instance at once. Sessions created from it stop working too.",
    args: { id: t.arg.id() },
    resolve: (_root, args, context) =>
      revokeApiKey(context.viewer.tenantId, localId("ApiKey", args.id), originOf(context)),
  }),
);
