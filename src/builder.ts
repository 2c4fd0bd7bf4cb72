import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import ErrorsPlugin from "@pothos/plugin-errors";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { GraphQLError } from "graphql";
import { DateTimeResolver, JSONResolver } from "graphql-scalars";
import { prisma } from "./db/prisma.js";
import type PrismaTypes from "./generated/pothos-types.js";
import { getDatamodel } from "./generated/pothos-types.js";
import type { AuthenticatedContext, GraphQLContext } from "./graphql/context.js";
import { fieldCost, LIST_COST_MULTIPLIER } from "./graphql/cost.js";
import GenericDescriptionsPlugin from "./graphql/generic-descriptions.js";
import PaginationPlugin from "./graphql/pagination.js";
import StorableInputPlugin from "./graphql/storable-input-plugin.js";
import { type NodeType, parseGlobalId, toGlobalId } from "./lib/ids.js";
import { grants, type Scope } from "./modules/identity/scopes.js";

/**
 * The one SchemaBuilder. Modules under src/modules add their types and root fields to it; src/schema.ts imports
 * them and builds the schema.
 *
 * Authorization is deny-by-default: every root type requires an authenticated caller (type-level `authScopes`),
 * each field adds the scope it needs with `t.withAuth({ scope })` (which also hands its resolvers a non-null viewer),
 * and the few public fields opt out with `skipTypeScopes`.
 */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  AuthScopes: {
    public: boolean;
    authenticated: boolean;
    /** The caller holds this scope (or `admin`, which implies every scope). */
    scope: Scope;
  };
  // Fields declared with `t.withAuth({ authenticated: true })` or `t.withAuth({ scope: ... })` run only for a caller
  // those scopes let in, so their resolvers get a context whose viewer is not null.
  AuthContexts: {
    authenticated: AuthenticatedContext;
    scope: AuthenticatedContext;
  };
  Scalars: {
    // IDs arrive as the strings clients send (graphql-js parses an ID literal or variable to a string); resolvers may
    // return numbers.
    ID: { Input: string; Output: string | number };
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: true;
}>({
  // scope-auth first, so that no other plugin's wrapper runs before authorization; storable-input after errors, so
  // that its refusals become the typed ValidationError of fields that declare one; pagination checks connections'
  // paging arguments before their resolvers (src/graphql/pagination.ts).
  plugins: [
    ScopeAuthPlugin,
    ErrorsPlugin,
    StorableInputPlugin,
    PaginationPlugin,
    RelayPlugin,
    PrismaPlugin,
    ComplexityPlugin,
    GenericDescriptionsPlugin,
  ],
  defaultFieldNullability: false,
  defaultInputFieldRequiredness: true,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (context) => ({
      public: true,
      authenticated: context.viewer !== null,
      scope: (required) => Boolean(context.viewer && grants(context.viewer.scopes, required)),
    }),
    unauthorizedError: (_parent, context) =>
      context.viewer
        ? new GraphQLError("This operation needs a scope the caller does not have", {
            extensions: { code: "FORBIDDEN" },
          })
        : new GraphQLError("Authentication required: send an API key or session token", {
            extensions: { code: "UNAUTHENTICATED" },
          }),
  },
  errors: {
    defaultTypes: [],
    // Results are `union XResult = X | ValidationError | ...`, without a wrapper object around X.
    directResult: true,
    defaultUnionOptions: { name: ({ fieldName }) => `${fieldName.charAt(0).toUpperCase()}${fieldName.slice(1)}Result` },
  },
  // Only the cost model (see src/graphql/cost.ts). The limit is checked once per operation, before execution, by
  // useOperationLimits (src/graphql/limits.ts), so the plugin's own per-resolver check stays off.
  complexity: { disabled: true, fieldComplexity: fieldCost, defaultListMultiplier: LIST_COST_MULTIPLIER },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    // Global ids are base64url `<TypeName>:<uuid>` (src/lib/ids.ts). `node` and `nodes` are ours
    // (src/modules/nodes): they read only the caller's tenant and apply the caller's scopes.
    encodeGlobalID: (typename, id) => toGlobalId(typename as NodeType, String(id)),
    decodeGlobalID: (globalId) => {
      const parsed = parseGlobalId(globalId);
      return parsed ? { typename: parsed.type, id: parsed.id } : { typename: "", id: "" };
    },
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    nodeTypeOptions: {
      description: "An object with a global id: `node(id:)` and `nodes(ids:)` read any of them by that id.",
    },
  },
  prisma: {
    client: () => prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    // A prismaField or prismaConnection resolver that does not spread its `query` leaves relations to be loaded one
    // query per row: under the tests (vitest sets VITEST) that fails the operation, elsewhere it is only a warning
    // during development and nothing in production.
    onUnusedQuery: process.env.VITEST ? "error" : process.env.NODE_ENV === "production" ? null : "warn",
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("JSON", JSONResolver);

builder.queryType({
  description: "Reads. Every field needs an API key or session; each says which scope it needs.",
  authScopes: { authenticated: true },
});
builder.mutationType({
  description: "Changes. Every field needs an API key or session; each says which scope it needs.",
  authScopes: { authenticated: true },
});
builder.subscriptionType({
  description: "Live updates over WebSocket (graphql-ws, same path as HTTP); the same credentials and scopes as reads.",
  authScopes: { authenticated: true },
});
