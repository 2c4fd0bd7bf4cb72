import { brandWithType } from "@pothos/core";
import { GraphQLError } from "graphql";
import { builder } from "../../builder.js";
import { requireViewer } from "../../graphql/context.js";
import { ForbiddenError } from "../../lib/errors.js";
import { type FoundNode, loadNodes, MAX_NODE_IDS } from "./nodes.service.js";

const NodeInterface = builder.nodeInterfaceRef();

/** A found row as the Node interface resolves it (branded with its type); refusals become the scope check's error. */
function asNode(result: FoundNode | ForbiddenError | null) {
  if (result instanceof ForbiddenError) {
    return new GraphQLError(result.message, { extensions: { code: "FORBIDDEN", field: result.field } });
  }
  if (!result) return null;
  brandWithType(result.row, result.type as never);
  return result.row;
}

builder.queryField("node", (t) =>
  t.field({
    type: NodeInterface,
    nullable: true,
    description:
      "The object a global id names, of any type, or null when it names nothing the caller can see: a malformed id, " +
      "a missing object and another tenant's are all null. FORBIDDEN when the caller lacks the scope that reads objects of the id's type.",
    args: { id: t.arg.id() },
    resolve: async (_root, { id }, context) => {
      const [result] = await loadNodes(requireViewer(context), [id]);
      const node = asNode(result ?? null);
      if (node instanceof GraphQLError) throw node;
      return node;
    },
  }),
);

builder.queryField("nodes", (t) =>
  t.field({
    type: [NodeInterface],
    nullable: { list: false, items: true },
    description: `The objects the global ids name, in order, each as node(id:) answers it (null, or a FORBIDDEN error for that item). At most ${MAX_NODE_IDS} ids.`,
    args: { ids: t.arg.idList({ description: `The global ids to read, at most ${MAX_NODE_IDS}.` }) },
    // One query per type, whatever the number of ids: cost like a page of a connection.
    complexity: (args) => ({ field: 1, multiplier: Math.min(args.ids.length, MAX_NODE_IDS) }),
    resolve: async (_root, { ids }, context) => {
      if (ids.length > MAX_NODE_IDS) {
        throw new GraphQLError(`nodes takes at most ${MAX_NODE_IDS} ids`, {
          extensions: { code: "BAD_USER_INPUT", argument: "ids", limit: MAX_NODE_IDS, measured: ids.length },
        });
      }
      const results = await loadNodes(requireViewer(context), ids);
      // An error in the list makes that item null with its own error (path nodes.<index>), leaving the others.
      return results.map((result) => {
        const node = asNode(result);
        return node instanceof GraphQLError ? Promise.reject(node) : node;
      });
    },
  }),
);
