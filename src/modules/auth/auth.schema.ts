import { GraphQLError } from "graphql";
import { builder } from "../../builder.js";
import { prisma } from "../../db/prisma.js";
import { originOf, requireViewer } from "../../graphql/context.js";
import { ValidationError } from "../../lib/errors.js";
import { ScopeEnum } from "../identity/identity.schema.js";
import type { AuthMethod, Viewer } from "../identity/viewer.js";
import type { Authenticator } from "./authenticate.js";
import { createSession } from "./sessions.service.js";

declare module "../../graphql/context.js" {
  interface ContextServices {
    /** Credentials to viewers, and session tokens, with this instance's keyring and identity provider. */
    authenticator: Authenticator;
  }
}

const AuthMethodEnum = builder.enumType("AuthMethod", {
  description: "How the caller authenticated.",
  values: {
    API_KEY: { value: "api_key" satisfies AuthMethod, description: "An API key (sp_...)." },
    SESSION: { value: "session" satisfies AuthMethod, description: "A session token from createSession." },
    EXTERNAL: { value: "external" satisfies AuthMethod, description: "A token from the configured identity provider." },
  } as const,
});

const ViewerType = builder.objectRef<Viewer>("Viewer").implement({
  description: "The caller of this request.",
  fields: (t) => ({
    tenant: t.prismaField({
      description: "The tenant the credential belongs to.",
      type: "Tenant",
      resolve: (query, viewer) => prisma.tenant.findUniqueOrThrow({ ...query, where: { id: viewer.tenantId } }),
    }),
    scopes: t.field({
      description: "The scopes this request runs with.",
      type: [ScopeEnum],
      resolve: (viewer) => [...viewer.scopes],
    }),
    method: t.field({
      description: "How the caller authenticated: API key, session or external token.",
      type: AuthMethodEnum,
      resolve: (viewer) => viewer.method,
    }),
    apiKey: t.prismaField({
      type: "ApiKey",
      nullable: true,
      description: "The API key used, directly or through a session.",
      resolve: (query, viewer) =>
        viewer.apiKeyId ? prisma.apiKey.findUnique({ ...query, where: { id: viewer.apiKeyId } }) : null,
    }),
    actorName: t.string({
      description: "A name for the caller as the audit log records it; null when there is none.",
      nullable: true,
      resolve: (viewer) => viewer.actorName,
    }),
    expiresAt: t.field({
      description: "When the credential stops working; null when it does not expire.",
      type: "DateTime",
      nullable: true,
      resolve: (viewer) => viewer.expiresAt,
    }),
  }),
});

// `viewer` and `createSession` need any credential, which the root types' own authScopes require: with no scope of
// their own (tests/identity/scope-matrix.test.ts holds that), `t.withAuth` cannot narrow their context, so they read
// the viewer through requireViewer.
builder.queryField("viewer", (t) =>
  t.field({
    type: ViewerType,
    description: "Who is calling: tenant, credential and scopes. Needs any valid credential.",
    resolve: (_root, _args, context) => requireViewer(context),
  }),
);

const SessionTokenType = builder.objectRef<{ token: string; expiresAt: Date }>("SessionToken").implement({
  description: "A short-lived bearer token for browser consoles. It stops working when its API key is revoked.",
  fields: (t) => ({
    token: t.exposeString("token", {
      description: "The session token, shown once: send it as `Authorization: Bearer <token>`.",
    }),
    tokenType: t.string({
      description: "Always Bearer.",
      resolve: () => "Bearer",
    }),
    expiresAt: t.expose("expiresAt", {
      description: "When the session ends; create another one then.",
      type: "DateTime",
    }),
  }),
});

builder.mutationField("createSession", (t) =>
  t.field({
    type: SessionTokenType,
    description: "Exchanges the API key sent with this request for a session JWT, optionally with fewer scopes.",
    errors: { types: [ValidationError] },
    args: {
      scopes: t.arg({
        type: [ScopeEnum],
        required: false,
        description: "A subset of the key's scopes; all of them when omitted.",
      }),
    },
    resolve: async (_root, args, context) => {
      const viewer = requireViewer(context);
      if (viewer.method !== "api_key" || !viewer.apiKeyId) {
        throw new GraphQLError("Sessions are created with an API key, not with another token", {
          extensions: { code: "FORBIDDEN" },
        });
      }
      return createSession(
        { ...viewer, apiKeyId: viewer.apiKeyId },
        args.scopes ?? null,
        originOf({ ...context, viewer }),
        context.services.authenticator,
      );
    },
  }),
);
