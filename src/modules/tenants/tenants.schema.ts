import { builder } from "../../builder.js";

export const TenantType = builder.prismaNode("Tenant", {
  id: { field: "id" },
  description: "The organisation every object belongs to.",
  fields: (t) => ({
    slug: t.exposeString("slug", {
      description: "The tenant's short unique name.",
    }),
    name: t.exposeString("name", {
      description: "The tenant's display name.",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});
