import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import { createComplexityRule } from "@pothos/plugin-complexity";
import {
  BREAK,
  type DocumentNode,
  type ExecutionArgs,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type ParseOptions,
  parse,
  type SelectionSetNode,
  type Source,
  type ValidationContext,
  type ValidationRule,
  validate,
  visit,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { LRUCache } from "lru-cache";

/**
 * What one GraphQL operation may ask for, checked before anything executes, the same over HTTP, SSE and WebSocket.
 * The largest operation our clients send (clients/operations) is far below each (tests/hostile/graphql-limits).
 */
export const GRAPHQL_LIMITS = {
  /**
   * Lexical tokens in the document, counted by the parser, which stops at the first one over (so a 26 MB document
   * never becomes a tree). It also bounds nesting to about a thousand levels, which the recursive parser survives.
   * Large inputs belong in variables, which are not tokens.
   */
  tokens: 3_000,
  /** Nested selection sets (a fragment spread counts as a level); `__schema` has its own limit below. */
  depth: 15,
  /** Aliased fields, `__typename` included. */
  aliases: 30,
  /** Directives in the operation and the fragments it uses. */
  directives: 50,
  /**
   * Introspection lists (`types`, `fields`, `args`, ...) nested in one another: GraphiQL's query nests three. Each
   * level multiplies the answer by the size of the schema, and introspection has no cost in the model below.
   */
  introspectionLists: 3,
  /**
   * The cost (src/graphql/cost.ts): a list's children count once per item it can return. Our most expensive client
   * operation, Endpoints at the largest page, costs 5,401; a page of 100 deliveries with their event and endpoint
   * health costs 1,401.
   */
  cost: 10_000,
} as const;

/** The codes a refused operation answers, one per limit. */
export const LIMIT_CODES = [
  "MAX_TOKENS_EXCEEDED",
  "MAX_DEPTH_EXCEEDED",
  "MAX_ALIASES_EXCEEDED",
  "MAX_DIRECTIVES_EXCEEDED",
  "MAX_INTROSPECTION_DEPTH_EXCEEDED",
  "QUERY_TOO_COMPLEX",
] as const;
export type LimitCode = (typeof LIMIT_CODES)[number];
const limitCodes = new Set<unknown>(LIMIT_CODES);

/** A refusal: HTTP 400 (see onResultProcess below) with the code, the limit and what the operation measured. */
export function limitError(code: LimitCode, message: string, limit: number, measured: number | null): GraphQLError {
  return new GraphQLError(message, { extensions: { code, limit, measured, http: { status: 400, spec: false } } });
}

// graphql-js's own wording when `maxTokens` stops the parser (graphql 16: "Document contains more that N tokens",
// sic; a fixed spelling would still match). tests/hostile/graphql-limits fails if the wording changes.
const TOKEN_LIMIT_MESSAGE = /contains more tha[nt] \d+ tokens/;

/** graphql's `parse` with the token limit, its refusal typed. */
export function parseWithLimits(source: string | Source, options?: ParseOptions): DocumentNode {
  const limit = GRAPHQL_LIMITS.tokens;
  try {
    return parse(source, { ...options, maxTokens: limit });
  } catch (error) {
    if (error instanceof GraphQLError && TOKEN_LIMIT_MESSAGE.test(error.message)) {
      throw limitError(
        "MAX_TOKENS_EXCEEDED",
        `the document has more than ${limit} tokens (put large inputs in variables)`,
        limit,
        limit + 1,
      );
    }
    // The token limit keeps nesting within what the recursive parser survives; this is the safety net.
    if (error instanceof RangeError) {
      throw limitError("MAX_DEPTH_EXCEEDED", "the document nests too deeply to parse", GRAPHQL_LIMITS.depth, null);
    }
    throw error;
  }
}

/**
 * graphql-armor's counting rule with our typed refusal: the rule runs with no limit of its own and hands us what it
 * measured (its own refusal is an untyped "Syntax Error" that it throws out of validation).
 */
function measuredBy(
  armorRule: (options: {
    n: number;
    onAccept: ((context: ValidationContext | null, details: { n: number }) => void)[];
  }) => ValidationRule,
  refuse: (measured: number) => GraphQLError | null,
): ValidationRule {
  return armorRule({
    n: Number.POSITIVE_INFINITY,
    onAccept: [
      (context, { n }) => {
        const error = refuse(n);
        if (error) context?.reportError(error);
      },
    ],
  });
}

function over(code: LimitCode, what: string, limit: number) {
  return (measured: number) =>
    measured > limit ? limitError(code, `${what} ${measured} exceeds the limit of ${limit}`, limit, measured) : null;
}

const INTROSPECTION_ROOTS = new Set(["__schema", "__type"]);
const INTROSPECTION_LISTS = new Set([
  "types",
  "fields",
  "args",
  "inputFields",
  "interfaces",
  "possibleTypes",
  "enumValues",
  "directives",
]);

/**
 * Hand-made: no package bounds introspection (graphql-armor's depth rule can skip it, Pothos' complexity does not
 * see it), and `__schema { types { fields { type { fields { ... } } } } }` grows by the schema's size per level.
 * Counts introspection lists nested on one path, following fragment spreads. Each fragment is measured once per
 * context (inside introspection or not) and remembered: without that, a few KB of fragments spreading the next one
 * three times (F1 -> 3 x F2 -> 9 x F3 ...) took exponential time, before any credential was checked.
 */
function introspectionListNesting(
  selectionSet: SelectionSetNode,
  inIntrospection: boolean,
  fragments: Map<string, FragmentDefinitionNode>,
  measured: Map<string, number>,
): number {
  let deepest = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (!selection.selectionSet) continue;
      const inside = inIntrospection || INTROSPECTION_ROOTS.has(selection.name.value);
      const own = inside && INTROSPECTION_LISTS.has(selection.name.value) ? 1 : 0;
      deepest = Math.max(deepest, own + introspectionListNesting(selection.selectionSet, inside, fragments, measured));
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      deepest = Math.max(
        deepest,
        introspectionListNesting(selection.selectionSet, inIntrospection, fragments, measured),
      );
    } else {
      const fragment = fragments.get(selection.name.value);
      if (!fragment) continue;
      const key = `${inIntrospection ? "in" : "out"}:${fragment.name.value}`;
      let depth = measured.get(key);
      if (depth === undefined) {
        // Marked 0 while it is measured: a cycle (refused by the standard NoFragmentCycles rule) ends here.
        measured.set(key, 0);
        depth = introspectionListNesting(fragment.selectionSet, inIntrospection, fragments, measured);
        measured.set(key, depth);
      }
      deepest = Math.max(deepest, depth);
    }
  }
  return deepest;
}

const introspectionRule: ValidationRule = (context) => {
  const refuse = over(
    "MAX_INTROSPECTION_DEPTH_EXCEEDED",
    "introspection lists nested",
    GRAPHQL_LIMITS.introspectionLists,
  );
  return {
    OperationDefinition(operation) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of context.getDocument().definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      const error = refuse(introspectionListNesting(operation.selectionSet, false, fragments, new Map()));
      if (error) context.reportError(error);
    },
  };
};

/** The rules that depend on the document alone, so Yoga's validation cache keeps their verdict per document. */
const documentRules: ValidationRule[] = [
  measuredBy(
    (options) => maxDepthRule({ ...options, ignoreIntrospection: true }),
    over("MAX_DEPTH_EXCEEDED", "selection depth", GRAPHQL_LIMITS.depth),
  ),
  measuredBy(
    (options) => maxAliasesRule({ ...options, allowList: [] }),
    over("MAX_ALIASES_EXCEEDED", "aliases", GRAPHQL_LIMITS.aliases),
  ),
  measuredBy(maxDirectivesRule, over("MAX_DIRECTIVES_EXCEEDED", "directives", GRAPHQL_LIMITS.directives)),
  introspectionRule,
];

/** Per document: whether a `first` or `last` takes a variable, the only way variables change the cost. */
const sizedByVariables = new WeakMap<DocumentNode, boolean>();
/** Per document and operation name: the cost, when no variable changes it. */
const fixedCosts = new WeakMap<DocumentNode, Map<string, number>>();

function pageSizedByVariables(document: DocumentNode): boolean {
  let sized = sizedByVariables.get(document);
  if (sized === undefined) {
    sized = false;
    visit(document, {
      Argument(node) {
        if ((node.name.value === "first" || node.name.value === "last") && node.value.kind === Kind.VARIABLE) {
          sized = true;
          return BREAK;
        }
        return undefined;
      },
    });
    sizedByVariables.set(document, sized);
  }
  return sized;
}

/**
 * The cost of the operation about to run, with its variables (a page size is often one); null when its variables do
 * not coerce (execution then refuses them in its own words, before any resolver runs). Yoga's parse cache hands the
 * same document object to every request with the same text, so a cost no variable changes is computed once: the
 * plugin's rule coerces every variable, a publishEvent's payload included, which cost 55 µs per publish.
 */
export function operationCost(args: ExecutionArgs): number | null {
  const fixed = !pageSizedByVariables(args.document);
  const operation = args.operationName ?? "";
  if (fixed) {
    const known = fixedCosts.get(args.document)?.get(operation);
    if (known !== undefined) return known;
  }
  let cost: number | null = null;
  validate(args.schema, args.document, [
    createComplexityRule({
      variableValues: (args.variableValues ?? {}) as Record<string, unknown>,
      operationName: args.operationName ?? undefined,
      context: args.contextValue as object,
      validate: ({ complexity }) => {
        cost = complexity;
      },
    }),
  ]);
  if (fixed && cost !== null) {
    let costs = fixedCosts.get(args.document);
    if (!costs) {
      costs = new Map();
      fixedCosts.set(args.document, costs);
    }
    costs.set(operation, cost);
  }
  return cost;
}

/** The refusal of an operation over the cost limit, or null. Runs after validation (so within the depth limit). */
export function costRefusal(args: ExecutionArgs): GraphQLError | null {
  const cost = operationCost(args);
  return cost === null ? null : over("QUERY_TOO_COMPLEX", "query cost", GRAPHQL_LIMITS.cost)(cost);
}

/**
 * Every limit above as one envelop plugin: tokens in the parser, depth, aliases, directives and introspection in
 * validation, the cost just before execute or subscribe. WebSocket operations run through the same hooks
 * (`yoga.getEnveloped` in src/http/server.ts).
 */
export function useOperationLimits(): Plugin {
  return {
    onParse({ setParseFn }) {
      setParseFn(parseWithLimits);
    },
    onValidate({ addValidationRule }) {
      for (const rule of documentRules) addValidationRule(rule);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const refusal = costRefusal(args);
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refusal = costRefusal(args);
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
    // Yoga marks every parse and validation error as the spec's (`http.spec`), which `application/json` clients then
    // receive with 200; a limit is a refusal, 400 for every client.
    onResultProcess({ result }) {
      if (Array.isArray(result) || !("errors" in result) || !result.errors) return;
      for (const error of result.errors) {
        const http = error.extensions?.http as { spec?: boolean } | undefined;
        if (http && limitCodes.has(error.extensions?.code)) http.spec = false;
      }
    },
  };
}

/** Characters of documents Yoga's parse caches may hold, all entries together. */
const DOCUMENT_CACHE_CHARS = 512 * 1024;

/**
 * Yoga's parse caches, bounded by the size of the documents rather than their number. Its defaults keep 1,024
 * documents of any size (keyed by the full text): a 3,000-token document parses to about 1.5 MB of tree, so distinct
 * documents, valid or not, would fill the heap. Our clients' operations are a few KB; a larger document is simply
 * parsed again each time.
 */
export function boundedParseCaches() {
  const bySize = <V extends object>() =>
    new LRUCache<string, V>({
      maxSize: DOCUMENT_CACHE_CHARS,
      maxEntrySize: 16 * 1024,
      sizeCalculation: (_v, key) => key.length,
    });
  return { documentCache: bySize<DocumentNode>(), errorCache: bySize<object>() };
}
