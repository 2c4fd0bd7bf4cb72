import { gql } from "../api.js";
import { clearErrors, codeBlock, dataTable, field, formatTime, h, isoFromLocal, say, showError } from "../dom.js";

const QUERY = `query ($filter: AuditLogFilter, $after: String) { auditLog(first: 50, after: $after, filter: $filter) {
  edges { node { id action actorType actorId actorName targetType targetId ip createdAt metadata } }
  pageInfo { hasNextPage endCursor } } }`;

/** Suggestions for the action filter (any dotted verb may be typed). */
const KNOWN_ACTIONS = [
  "agent.created",
  "agent.updated",
  "agent.deleted",
  "agent_secret.regenerated",
  "agent_secret.revealed",
  "api_key.created",
  "api_key.revoked",
  "endpoint.created",
  "endpoint.updated",
  "endpoint.deleted",
  "endpoint.disabled",
  "endpoint.enabled",
  "endpoint.recovered",
  "endpoint_headers.revealed",
  "endpoint_secret.revealed",
  "endpoint_secret.rotated",
  "event_type.created",
  "event_type.updated",
  "event_type.archived",
  "session.created",
  "settings.updated",
];

function entryRow(entry) {
  return h(
    "tr",
    { "data-action": entry.action },
    h("td", {}, formatTime(entry.createdAt)),
    h("td", { class: "mono" }, entry.action),
    h("td", {}, entry.actorName ?? entry.actorId ?? "—", h("div", { class: "muted" }, entry.actorType)),
    h("td", {}, entry.targetType ? `${entry.targetType} ${entry.targetId ?? ""}` : "—"),
    h("td", {}, entry.ip ?? "—"),
    h(
      "td",
      {},
      entry.metadata ? h("details", {}, h("summary", {}, "Details"), codeBlock(entry.metadata, "Details")) : "",
    ),
  );
}

/**
 * The audit log, newest first, filtered by action, actor (an API key: keys and the sessions made from them act as
 * the key) and time. The filter is checked here only for what the browser knows better (an empty window).
 */
export async function auditPage(view) {
  const { apiKeys } = await gql("{ apiKeys(first: 100) { edges { node { id name } } } }");
  const actor = h(
    "select",
    { name: "actorId", "aria-label": "Actor" },
    h("option", { value: "" }, "anyone"),
    apiKeys.edges.map(({ node }) => h("option", { value: node.id }, `API key ${node.name}`)),
  );
  const form = h(
    "form",
    { "aria-label": "Filter the audit log", class: "inline" },
    field("Action", "action", { list: "audit-actions", placeholder: "any" }),
    h(
      "datalist",
      { id: "audit-actions" },
      KNOWN_ACTIONS.map((action) => h("option", { value: action })),
    ),
    h("label", {}, "Actor", actor),
    field("From", "since", { type: "datetime-local" }),
    field("Until", "until", { type: "datetime-local" }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter")),
  );
  const table = h("div");
  const more = h("div", { class: "actions" });
  let rows = [];
  let loads = 0;

  const load = async (filter, after) => {
    // Only the newest request renders, whichever answer comes last.
    const current = ++loads;
    const { auditLog } = await gql(QUERY, { filter, after });
    if (current !== loads) return;
    rows = after
      ? [...rows, ...auditLog.edges.map(({ node }) => entryRow(node))]
      : auditLog.edges.map(({ node }) => entryRow(node));
    table.replaceChildren(
      rows.length
        ? dataTable("Audit log, newest first", ["When", "Action", "Actor", "Target", "From", ""], rows)
        : h("p", { class: "muted", "data-testid": "no-entries" }, "No entries match."),
    );
    more.replaceChildren(
      auditLog.pageInfo.hasNextPage
        ? h("button", { type: "button", onclick: () => load(filter, auditLog.pageInfo.endCursor) }, "Older entries")
        : "",
    );
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const since = isoFromLocal(data.get("since"));
    const until = isoFromLocal(data.get("until"));
    if (since && until && until <= since)
      return showError(form, { code: "INVALID_WINDOW", message: "Until must be after From", field: "until" });
    clearErrors(form);
    const action = String(data.get("action")).trim();
    const filter = {
      ...(action ? { actions: [action] } : {}),
      ...(data.get("actorId") ? { actorId: data.get("actorId") } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
    };
    await load(filter);
    say(`Audit log filtered: ${rows.length} entr${rows.length === 1 ? "y" : "ies"} shown`);
  });
  await load({});
  view.replaceChildren(h("h2", {}, "Audit log"), form, table, more);
}
