import type { FieldComplexityValue } from "@pothos/plugin-complexity";
import { type GraphQLField, getNamedType, getNullableType, isListType } from "graphql";

/**
 * The cost model of an operation, read by @pothos/plugin-complexity: every field costs 1, and a list field's
 * children count once per item it can return. A connection (a field with `first` and `last`) returns at most its
 * page size, so its children count `first` (or `last`) times, capped at the largest page any list serves; its
 * `edges` then count once, since the page is already multiplied in. Other lists count their children
 * LIST_COST_MULTIPLIER times (the plugin's own default).
 */

/** The page a connection serves when the request does not size it: the largest `defaultSize` of our lists. */
export const DEFAULT_PAGE_SIZE = 50;
/** No connection serves more than this (the largest `maxSize`), whatever `first` or `last` asks. */
export const MAX_PAGE_SIZE = 200;
/** How many items a plain list (not a connection) is assumed to hold. */
export const LIST_COST_MULTIPLIER = 10;

const connections = new WeakMap<object, boolean>();

/** A Relay connection field: it takes both `first` and `last` (remembered per field; the check runs per request). */
function isConnection(field: GraphQLField<unknown, never>): boolean {
  let known = connections.get(field);
  if (known === undefined) {
    known = field.args.some((arg) => arg.name === "first") && field.args.some((arg) => arg.name === "last");
    connections.set(field, known);
  }
  return known;
}

function pageSize(args: Record<string, unknown>): number {
  const requested = typeof args.first === "number" ? args.first : typeof args.last === "number" ? args.last : null;
  if (requested === null) return DEFAULT_PAGE_SIZE;
  return Math.min(Math.max(requested, 0), MAX_PAGE_SIZE);
}

/** The cost of one selected field (the plugin's `fieldComplexity`). */
export function fieldCost(
  args: Record<string, unknown>,
  _context: unknown,
  field: GraphQLField<unknown, never>,
): FieldComplexityValue {
  if (isConnection(field)) return { field: 1, multiplier: pageSize(args) };
  if (field.name === "edges" && getNamedType(field.type).name.endsWith("Edge")) return { field: 1, multiplier: 1 };
  if (isListType(getNullableType(field.type))) return { field: 1, multiplier: LIST_COST_MULTIPLIER };
  return { field: 1, multiplier: 1 };
}
