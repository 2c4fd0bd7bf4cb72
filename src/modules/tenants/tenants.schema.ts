import { builder } from "../../builder.js";

export const TenantType = builder.prismaObject("Tenant", {
  description: "The organisation every object belongs to.",
  fields: (t) => ({
    id: t.exposeID("id"),
    slug: t.exposeString("slug", {
      description: "The tenant's short unique name.",
    }),
    name: t.exposeString("name", {
      description: "The tenant's display name.",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});
