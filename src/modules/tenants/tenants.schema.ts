import { builder } from "../../builder.js";

export const TenantType = builder.prismaObject("Tenant", {
  description: "The organisation every object belongs to.",
  fields: (t) => ({
    id: t.exposeID("id"),
    slug: t.exposeString("slug"),
    name: t.exposeString("name"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});
