import SchemaBuilder, {
  BasePlugin,
  type PothosOutputFieldConfig,
  type PothosTypeConfig,
  type SchemaTypes,
} from "@pothos/core";

/**
 * Descriptions for the types every list and every result share, written once here rather than on each field: Relay
 * connections, edges and PageInfo, and the `...Result` unions of the errors plugin. A description a module writes
 * itself always wins.
 */

const PAGE_INFO_FIELDS: Record<string, string> = {
  hasNextPage: "Whether more items follow this page (ask with `after: endCursor`).",
  hasPreviousPage: "Whether items come before this page (ask with `before: startCursor`).",
  startCursor: "The cursor of this page's first item; null when the page is empty.",
  endCursor: "The cursor of this page's last item; null when the page is empty.",
};

function itemName(typeName: string, suffix: string): string {
  return typeName.slice(0, -suffix.length);
}

function typeDescription(config: PothosTypeConfig): string | undefined {
  const { name } = config;
  if (config.kind === "Object" && name === "PageInfo")
    return "Where a page sits in its list, and the cursors to move on.";
  if (config.kind === "Object" && name.endsWith("Connection"))
    return `A page of ${itemName(name, "Connection")} items, in the list's order, with the cursors to fetch the next or previous page.`;
  if (config.kind === "Object" && name.endsWith("Edge"))
    return `One ${itemName(name, "Edge")} in a page, with the cursor that points at it.`;
  if (config.kind === "Union" && name.endsWith("Result")) {
    const field = `${name.charAt(0).toLowerCase()}${name.slice(1, -"Result".length)}`;
    return `What \`${field}\` returns: its object when it succeeds, otherwise one of the typed errors among these members (select \`__typename\` and the error's \`message\`, \`code\` and \`field\`).`;
  }
  return undefined;
}

/** Fields every object type has, described once. A module's own description wins. */
const COMMON_FIELDS: Record<string, string> = {
  id: "This object's id: opaque, pass it back as it is to the fields that take one.",
  createdAt: "When it was created (ISO 8601, UTC).",
  updatedAt: "When it last changed (ISO 8601, UTC).",
};

/** Arguments many root fields share, described once. */
const COMMON_ARGUMENTS: Record<string, string> = {
  id: "The id of the object to read or change. Another tenant's id answers NOT_FOUND, exactly like a missing one.",
  input: "The values to set; the input type describes each one and its limits.",
  filter: "Only the items that match every field given; all items when omitted.",
};

function fieldDescription(parentType: string, field: string): string | undefined {
  if (!parentType.endsWith("Connection") && !parentType.endsWith("Edge") && COMMON_FIELDS[field])
    return COMMON_FIELDS[field];
  if (parentType === "PageInfo") return PAGE_INFO_FIELDS[field];
  if (parentType.endsWith("Connection")) {
    if (field === "edges") return "The items of this page, each with its cursor.";
    if (field === "pageInfo") return "Whether more items exist before or after this page, and the cursors to get them.";
    if (field === "totalCount")
      return "How many items the whole list holds with the same arguments, not only this page.";
  }
  if (parentType.endsWith("Edge")) {
    if (field === "cursor") return "This item's place in the list: pass it as `after` or `before` to page from here.";
    if (field === "node") return `The ${itemName(parentType, "Edge")}.`;
  }
  return undefined;
}

const ROOT_TYPES = new Set(["Query", "Mutation", "Subscription"]);

/**
 * Who may call a root field, from the scopes it was declared with (`t.withAuth({ scope })`), appended to the
 * description the module wrote, so that GraphiQL shows the scope next to what the field does.
 */
function accessSentence(options: unknown): string | undefined {
  const { authScopes, skipTypeScopes } = options as { authScopes?: unknown; skipTypeScopes?: boolean };
  if (authScopes && typeof authScopes === "object") {
    const scopes = authScopes as { scope?: string; public?: boolean; authenticated?: boolean };
    // `admin` implies every scope but the operators' `instance:admin` (src/modules/identity/scopes.ts).
    if (scopes.scope === "instance:admin") return "Needs the `instance:admin` scope (instance operators).";
    if (scopes.scope) return `Needs the \`${scopes.scope}\` scope (or \`admin\`).`;
    if (scopes.public) return "Needs no credential.";
    if (scopes.authenticated) return "Needs any API key or session.";
  }
  if (skipTypeScopes) return "Needs no credential.";
  return undefined;
}

export class GenericDescriptionsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override onTypeConfig(typeConfig: PothosTypeConfig): PothosTypeConfig {
    if (typeConfig.description) return typeConfig;
    const description = typeDescription(typeConfig);
    return description ? { ...typeConfig, description } : typeConfig;
  }

  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    const args = { ...fieldConfig.args };
    for (const [name, arg] of Object.entries(args))
      if (!arg.description && COMMON_ARGUMENTS[name]) args[name] = { ...arg, description: COMMON_ARGUMENTS[name] };
    if (fieldConfig.description) {
      const access = ROOT_TYPES.has(fieldConfig.parentType) ? accessSentence(fieldConfig.pothosOptions) : undefined;
      return {
        ...fieldConfig,
        args,
        description: access ? `${fieldConfig.description} ${access}` : fieldConfig.description,
      };
    }
    const description = fieldDescription(fieldConfig.parentType, fieldConfig.name);
    return { ...fieldConfig, args, ...(description ? { description } : {}) };
  }
}

SchemaBuilder.registerPlugin("genericDescriptions", GenericDescriptionsPlugin);

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      genericDescriptions: GenericDescriptionsPlugin<Types>;
    }
  }
}

/** The plugin's name, for the builder's `plugins` list. */
export default "genericDescriptions" as const;
