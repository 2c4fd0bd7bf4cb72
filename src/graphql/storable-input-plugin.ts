import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from "@pothos/core";
import {
  GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLResolveInfo,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from "graphql";
import { ValidationError } from "../lib/errors.js";
import {
  describeUnstorable,
  findUnstorableText,
  type UnstorableText,
  unstorableProblem,
} from "../lib/storable-text.js";

/** A place in a field's arguments holding text PostgreSQL cannot store. */
interface UnstorableArgument extends UnstorableText {
  /** The input's name as our errors name it: `payload`, `events.3.payload`, `filter.eventType` (no `input.`). */
  field: string;
}

/**
 * Refuses, before any resolver runs, arguments holding text PostgreSQL cannot store (NUL, unpaired surrogates; see
 * storable-text.ts), on every field that takes arguments: mutations, queries and subscriptions alike, since a NUL in a
 * filter fails the query as surely as one in a payload fails the insert. One check here instead of one per field, so
 * a new input cannot forget it.
 *
 * Fields whose errors include ValidationError get that typed result (the errors plugin wraps this one: it comes
 * after it in the builder's list); others get a top-level error with the same code, field and pointer.
 */
export class StorableInputPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types["Context"], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> {
    if (Object.keys(fieldConfig.args).length === 0) return resolver;
    const typed = hasValidationError(fieldConfig);
    return (parent, args, context, info) => {
      const found = findInArguments(args, info);
      if (found) throw typed ? new ValidationError(message(found), found.field) : topLevelError(found);
      return resolver(parent, args, context, info);
    };
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types["Context"], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> | undefined {
    if (!subscribe || Object.keys(fieldConfig.args).length === 0) return subscribe;
    return (parent, args, context, info) => {
      const found = findInArguments(args, info);
      if (found) throw topLevelError(found);
      return subscribe(parent, args, context, info);
    };
  }
}

SchemaBuilder.registerPlugin("storableInput", StorableInputPlugin);

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      storableInput: StorableInputPlugin<Types>;
    }
  }
}

/** The plugin's name, for the builder's `plugins` list. */
export default "storableInput" as const;

function hasValidationError(fieldConfig: { extensions?: unknown }): boolean {
  const errors = (fieldConfig.extensions as { pothosErrors?: unknown[] } | undefined)?.pothosErrors;
  return errors?.includes(ValidationError) ?? false;
}

function message(found: UnstorableArgument): string {
  return describeUnstorable(found.field, found);
}

function topLevelError(found: UnstorableArgument): GraphQLError {
  return new GraphQLError(message(found), {
    extensions: { code: "VALIDATION_FAILED", field: found.field, pointer: found.pointer, problem: found.problem },
  });
}

/** Walks the coerced arguments along their GraphQL types; `JSON` values are walked whole, with a pointer. */
function findInArguments(args: object, info: GraphQLResolveInfo): UnstorableArgument | null {
  const definitions = info.parentType.getFields()[info.fieldName]?.args ?? [];
  for (const argument of definitions) {
    const value = (args as Record<string, unknown>)[argument.name];
    if (value === undefined || value === null) continue;
    // Our errors name the fields of an `input` argument without the prefix (`payload`, not `input.payload`).
    const found = findInValue(argument.type, value, argument.name === "input" ? "" : argument.name);
    if (found) return found;
  }
  return null;
}

function findInValue(type: GraphQLInputType, value: unknown, path: string): UnstorableArgument | null {
  if (value === undefined || value === null) return null;
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) {
    if (!Array.isArray(value)) return findInValue(inner.ofType, value, path);
    for (let index = 0; index < value.length; index += 1) {
      const found = findInValue(inner.ofType, value[index], join(path, String(index)));
      if (found) return found;
    }
    return null;
  }
  if (isInputObjectType(inner)) {
    for (const field of Object.values(inner.getFields())) {
      const found = findInValue(field.type, (value as Record<string, unknown>)[field.name], join(path, field.name));
      if (found) return found;
    }
    return null;
  }
  if (isScalarType(inner) && inner.name === "JSON") {
    const found = findUnstorableText(value);
    return found ? { field: path, ...found } : null;
  }
  if (typeof value === "string") {
    const problem = unstorableProblem(value);
    return problem ? { field: path, pointer: "", problem } : null;
  }
  return null;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}
