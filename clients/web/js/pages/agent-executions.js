import { gql } from "../api.js";
import { codeBlock, formatTime, h } from "../dom.js";

const QUERY = `query ($agentId: ID, $status: ExecutionStatus) {
  agentExecutions(agentId: $agentId, status: $status, first: 25) { edges { node {
    id status payload result error attempts receivedAt finishedAt sourceIp } } } }`;

const STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"];

function executionItem(execution) {
  return h(
    "details",
    { class: "attempt", "data-execution": execution.id, "data-status": execution.status },
    h(
      "summary",
      {},
      h("span", { class: execution.status === "SUCCEEDED" ? "ok" : execution.error ? "bad" : "" }, execution.status),
      ` · received ${formatTime(execution.receivedAt)} · ${execution.attempts} attempt${execution.attempts === 1 ? "" : "s"}`,
      execution.error ? ` · ${execution.error.slice(0, 80)}` : "",
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "From"),
      h("dd", {}, execution.sourceIp ?? "—"),
      h("dt", {}, "Finished"),
      h("dd", {}, formatTime(execution.finishedAt)),
    ),
    h("h4", {}, "Payload"),
    codeBlock(execution.payload, "Payload", { "data-testid": "execution-payload" }),
    h("h4", {}, "Result"),
    execution.result === null
      ? h("p", { class: "muted", "data-testid": "execution-result" }, "None yet")
      : codeBlock(execution.result, "Result", { "data-testid": "execution-result" }),
    h("h4", {}, "Error"),
    execution.error
      ? codeBlock(execution.error, "Error", { "data-testid": "execution-error" })
      : h("p", { class: "muted", "data-testid": "execution-error" }, "None"),
  );
}

/** The agent's executions, newest first, with a status filter and Refresh; each opens to its payload, result, error. */
export function executionsSection(agent) {
  const list = h("div", { "data-testid": "executions" });
  const status = h(
    "select",
    { name: "status", "aria-label": "Status" },
    h("option", { value: "" }, "any"),
    STATUSES.map((value) => h("option", { value }, value.toLowerCase())),
  );
  const load = async () => {
    const { agentExecutions } = await gql(QUERY, { agentId: agent.id, status: status.value || null });
    const items = agentExecutions.edges.map(({ node }) => executionItem(node));
    list.replaceChildren(...(items.length ? items : [h("p", { class: "muted" }, "No executions.")]));
  };
  const form = h(
    "form",
    { "aria-label": `Executions of ${agent.name}`, class: "inline" },
    h("label", {}, "Status", status),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Refresh executions")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  return {
    element: h(
      "section",
      { "aria-labelledby": "executions-heading" },
      h("h3", { id: "executions-heading" }, "Executions"),
      form,
      list,
    ),
    load,
  };
}
