import { type AgentFieldsFragment, AgentsDocument } from "../../clients/typescript/src/index.js";
import { allPages, idFromNameOrId, parseRemote, type Remote } from "./remote.js";
import { UsageError } from "./usage-error.js";

/** Every agent of the tenant. */
export function allAgents(client: Remote["client"]): Promise<AgentFieldsFragment[]> {
  return allPages(async (after) => (await client.request(AgentsDocument, { first: 100, after })).agents);
}

/** An agent id from an id or a name (`--agent github`). */
export function agentId(client: Remote["client"], value: string): Promise<string> {
  return idFromNameOrId("agent", value, () => allAgents(client));
}

/** The action types of an agent (`relay`, `emitEvent`, ...), from its stored `actions` JSON. */
export function actionTypes(agent: Pick<AgentFieldsFragment, "actions">): string[] {
  const actions = Array.isArray(agent.actions) ? (agent.actions as { type?: unknown }[]) : [];
  return actions.map((action) => String(action?.type ?? "?"));
}

/** `signalpost agents list`. */
export async function agentsCommand(args: string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  if (subcommand !== "list") throw new UsageError("usage: signalpost agents list (see: signalpost agents --help)");
  const { remote, positionals } = parseRemote(rest, {});
  if (positionals.length) throw new UsageError("agents list takes no arguments");
  const agents = await allAgents(remote.client);
  for (const agent of agents)
    remote.print(
      [agent.id, agent.name, agent.status, actionTypes(agent).join(",") || "no actions", agent.webhookUrl].join("  "),
      agent,
    );
  if (!remote.json) remote.note(`${agents.length} agent${agents.length === 1 ? "" : "s"}`);
}
