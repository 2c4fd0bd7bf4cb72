import { builder } from "../../builder.js";

export const TenantType = builder.prismaNode("Tenant", {
  id: { field: "id" },
  description: "The organisation every object belongs to.",
  fields: (t) => ({
    slug: t.exposeString("slug"),
    name: t.exposeString("name"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});
