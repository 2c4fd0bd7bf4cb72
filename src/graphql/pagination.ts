import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from "@pothos/core";
import { parsePrismaCursor } from "@pothos/plugin-prisma";
import { GraphQLError, type GraphQLFieldResolver } from "graphql";

/** A list's page sizes: the page served without `first` or `last`, and the most either may ask for. */
export interface PageSize {
  defaultSize: number;
  maxSize: number;
}

/** Where a connection field keeps its page sizes for the plugin below (Pothos passes `extensions` through). */
const PAGE_SIZE = "signalpostPageSize";

/**
 * The page sizes of a `t.prismaConnection` field, spread into its options: `...pageSize({ defaultSize: 20, maxSize:
 * 100 })`. The same numbers go to Pothos (which sizes the query) and to the pagination plugin (which refuses a page
 * over the limit instead of shortening it silently, and writes the limit into the arguments' descriptions).
 */
export function pageSize(size: PageSize): PageSize & { extensions: Record<string, PageSize> } {
  return { ...size, extensions: { [PAGE_SIZE]: size } };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A refused pagination argument: BAD_USER_INPUT, naming the argument (and the limit, for a page size). */
function badArgument(argument: string, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT", argument, ...extra } });
}

/**
 * Checks a connection's `first`, `last`, `after` and `before` before its resolver runs. Pothos would throw plain
 * errors for a negative size, a malformed cursor or a contradictory pair (masked as INTERNAL), shorten a page over
 * the limit without saying so, and hand a well-formed cursor of the wrong type to PostgreSQL.
 */
export function checkPageArguments(args: Record<string, unknown>, size: PageSize): void {
  for (const argument of ["first", "last"] as const) {
    const value = args[argument];
    if (value === null || value === undefined) continue;
    if (typeof value !== "number" || value < 0 || value > size.maxSize)
      throw badArgument(
        argument,
        `Argument "${argument}" must be between 0 and ${size.maxSize} (this list's page size limit); got ${String(value)}`,
        { minimum: 0, limit: size.maxSize, received: value },
      );
  }
  for (const argument of ["after", "before"] as const) {
    const value = args[argument];
    if (value === null || value === undefined) continue;
    if (!validCursor(value))
      throw badArgument(
        argument,
        `Argument "${argument}" is not a cursor from this API: pass an edge's cursor or pageInfo's endCursor/startCursor`,
      );
  }
  const pairs = [
    ["first", "last"],
    ["after", "before"],
    ["before", "first"],
    ["after", "last"],
  ] as const;
  for (const [one, other] of pairs)
    if (args[one] != null && args[other] != null)
      throw badArgument(
        other,
        `Arguments "${one}" and "${other}" cannot be used together: page forward with first/after, backward with last/before`,
      );
}

/** Our connections page on uuid primary keys: a cursor is Pothos's encoding of one. */
function validCursor(cursor: unknown): boolean {
  try {
    const value = parsePrismaCursor(cursor);
    return typeof value === "string" && UUID.test(value);
  } catch {
    return false;
  }
}

/** The generic descriptions of the Relay paging arguments, with the field's limits. */
function pagingDescriptions(size: PageSize): Record<string, string> {
  return {
    first: `How many items to return from the start of the list (or after \`after\`): 0 to ${size.maxSize}, default ${size.defaultSize}. A larger number is refused with BAD_USER_INPUT.`,
    after: "Return the items after this cursor (an edge's `cursor` or `pageInfo.endCursor` of the previous page).",
    last: `How many items to return from the end of the list (or before \`before\`): 0 to ${size.maxSize}. A larger number is refused with BAD_USER_INPUT.`,
    before: "Return the items before this cursor (an edge's `cursor` or `pageInfo.startCursor` of the next page).",
  };
}

/**
 * Pagination arguments in one place: every connection field declared with {@link pageSize} gets its `first`, `last`,
 * `after` and `before` checked before the resolver runs (typed BAD_USER_INPUT naming the argument and the limit), and
 * described with its limits.
 */
export class PaginationPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    const size = pageSizeOf(fieldConfig);
    if (!size) return fieldConfig;
    const descriptions = pagingDescriptions(size);
    const args = { ...fieldConfig.args };
    for (const [name, description] of Object.entries(descriptions)) {
      const arg = args[name];
      if (arg && !arg.description) args[name] = { ...arg, description };
    }
    return { ...fieldConfig, args };
  }

  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types["Context"], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> {
    const size = pageSizeOf(fieldConfig);
    if (!size) return resolver;
    return (parent, args, context, info) => {
      checkPageArguments(args as Record<string, unknown>, size);
      return resolver(parent, args, context, info);
    };
  }
}

function pageSizeOf(fieldConfig: { extensions?: unknown }): PageSize | undefined {
  return (fieldConfig.extensions as Record<string, PageSize> | undefined)?.[PAGE_SIZE];
}

SchemaBuilder.registerPlugin("pagination", PaginationPlugin);

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      pagination: PaginationPlugin<Types>;
    }
  }
}

/** The plugin's name, for the builder's `plugins` list. */
export default "pagination" as const;
