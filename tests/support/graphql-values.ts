import {
  type GraphQLInputType,
  type GraphQLSchema,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type TypeNode,
  typeFromAST,
} from "graphql";

/** A small deterministic random source (mulberry32), so generated cases are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALAR_SAMPLES: Record<string, unknown[]> = {
  String: ["x", "", "order.created", "a".repeat(300)],
  ID: ["1", "00000000-0000-0000-0000-000000000000", "nope"],
  Int: [0, 1, 20, 100],
  Float: [0, 1.5],
  Boolean: [true, false],
  DateTime: ["2024-01-01T00:00:00.000Z"],
  JSON: [{}, { a: 1 }, [1, 2], "text"],
};

/**
 * A value of `type` that passes GraphQL coercion (required fields filled, nullable ones sometimes left out); with
 * `random` it varies, without it is always the first sample.
 */
export function validValue(type: GraphQLInputType, random: () => number = () => 0, depth = 0): unknown {
  if (isNonNullType(type)) return validValue(type.ofType, random, depth);
  const nullable = getNullableType(type);
  if (isListType(nullable)) return [validValue(nullable.ofType as GraphQLInputType, random, depth + 1)];
  if (isEnumType(nullable)) {
    const values = nullable.getValues();
    return values[Math.floor(random() * values.length)]?.name;
  }
  if (isInputObjectType(nullable)) {
    const result: Record<string, unknown> = {};
    for (const field of Object.values(nullable.getFields())) {
      const required = isNonNullType(field.type) && field.defaultValue === undefined;
      if (required || (depth < 3 && random() < 0.3)) result[field.name] = validValue(field.type, random, depth + 1);
    }
    return result;
  }
  if (isScalarType(nullable)) {
    const samples = SCALAR_SAMPLES[nullable.name] ?? ["x"];
    return samples[Math.floor(random() * samples.length)];
  }
  return null;
}

/** The input type a variable definition names. */
export function variableType(schema: GraphQLSchema, type: TypeNode): GraphQLInputType {
  return typeFromAST(schema, type as never) as GraphQLInputType;
}
