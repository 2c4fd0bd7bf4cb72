import { gql } from "../api.js";
import { dataTable, detailHref, field, formatTime, h, isoFromLocal, say, showError } from "../dom.js";
import { exportForm, recoverForm } from "./delivery-tools.js";

const STATUSES = ["PENDING", "SENDING", "SUCCEEDED", "FAILED", "CANCELLED"];
const DELIVERY_FIELDS =
  "id eventType status attemptCount lastStatusCode lastError failureReason createdAt endpoint { name }";

/** A select whose first option, "any", means no filter. */
function filterSelect(label, name, options, selected) {
  return h(
    "label",
    {},
    label,
    h(
      "select",
      { name },
      h("option", { value: "" }, "any"),
      options.map(([value, text]) => h("option", { value, selected: value === selected }, text)),
    ),
  );
}

function deliveryRow(delivery, reload) {
  const retry = h(
    "button",
    {
      type: "button",
      "aria-label": `Retry delivery ${delivery.id}`,
      onclick: async () => {
        retry.disabled = true;
        const { retryDelivery: result } = await gql(
          `mutation ($id: ID!) { retryDelivery(id: $id) { __typename
            ... on SendResult { statusCode error { class } delivery { status } } ... on Error { code message } } }`,
          { id: delivery.id },
        );
        if (result.code) say(`${result.code}: ${result.message}`, { error: true });
        else
          say(
            `Sent again: ${result.statusCode ?? `no answer (${result.error?.class})`}; now ${result.delivery.status}`,
          );
        await reload();
      },
    },
    "Retry",
  );
  return h(
    "tr",
    { "data-delivery": delivery.id },
    h(
      "td",
      {},
      h(
        "a",
        {
          href: detailHref("deliveries", delivery.id),
          "aria-label": `Details of ${delivery.eventType} to ${delivery.endpoint.name}, ${formatTime(delivery.createdAt)}`,
        },
        formatTime(delivery.createdAt),
      ),
    ),
    h("td", {}, delivery.eventType),
    h("td", {}, delivery.endpoint.name),
    h(
      "td",
      { class: `delivery-${delivery.status}` },
      delivery.status,
      delivery.failureReason ? ` (${delivery.failureReason})` : "",
    ),
    h("td", {}, delivery.attemptCount),
    h("td", {}, delivery.lastStatusCode ?? delivery.lastError ?? "—"),
    h("td", {}, retry),
  );
}

/** The API's DeliveryFilter for the page's filter (raw form values): only what is set. */
function apiFilterOf(filter) {
  return {
    ...(filter.status ? { statuses: [filter.status] } : {}),
    ...(filter.endpointId ? { endpointId: filter.endpointId } : {}),
    ...(filter.eventType ? { eventType: filter.eventType } : {}),
    ...(filter.since ? { since: isoFromLocal(filter.since) } : {}),
    ...(filter.until ? { until: isoFromLocal(filter.until) } : {}),
  };
}

/**
 * The delivery log with its filters (status, endpoint, event type, a date range), the export of what the filter
 * selects, and the recovery of an endpoint. `filter` holds the form's raw values, so a re-render shows them again.
 */
let renders = 0;

export async function deliveriesPage(view, filter = {}) {
  // Filters submitted quickly one after the other: only the newest may render, whichever answer comes last.
  const render = ++renders;
  const apiFilter = apiFilterOf(filter);
  const [{ endpoints, eventTypes }, { deliveries }] = await Promise.all([
    gql(`{ endpoints(first: 100) { edges { node { id name } } }
      eventTypes(first: 200, includeArchived: true) { edges { node { name } } } }`),
    gql(
      `query ($filter: DeliveryFilter) { deliveries(first: 50, filter: $filter) { __typename
        ... on DeliveryConnection { edges { node { ${DELIVERY_FIELDS} } } }
        ... on Error { code message field } } }`,
      { filter: apiFilter },
    ),
  ]);
  if (render !== renders) return;
  const reload = () => deliveriesPage(view, filter);
  const form = h(
    "form",
    { "aria-label": "Filter deliveries", class: "inline" },
    filterSelect(
      "Status",
      "status",
      STATUSES.map((status) => [status, status.toLowerCase()]),
      filter.status,
    ),
    filterSelect(
      "Endpoint",
      "endpointId",
      endpoints.edges.map(({ node }) => [node.id, node.name]),
      filter.endpointId,
    ),
    filterSelect(
      "Event type",
      "eventType",
      eventTypes.edges.map(({ node }) => [node.name, node.name]),
      filter.eventType,
    ),
    field("From", "since", { type: "datetime-local", value: filter.since }),
    field("Until", "until", { type: "datetime-local", value: filter.until }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const value = (name) => data.get(name) || undefined;
    await deliveriesPage(view, {
      status: value("status"),
      endpointId: value("endpointId"),
      eventType: value("eventType"),
      since: value("since"),
      until: value("until"),
    });
    view.querySelector("form")?.querySelector("button[type=submit]")?.focus();
  });
  const rows = (deliveries.edges ?? []).map(({ node }) => deliveryRow(node, reload));
  view.replaceChildren(
    h("h2", {}, "Deliveries"),
    form,
    rows.length
      ? dataTable(
          "Deliveries, newest first",
          ["Created", "Event type", "Endpoint", "Status", "Attempts", "Last answer", ""],
          rows,
        )
      : deliveries.code
        ? ""
        : h("p", { class: "muted", "data-testid": "no-deliveries" }, "No deliveries match."),
    h("h3", {}, "Export"),
    exportForm(() => apiFilter),
    recoverForm(endpoints.edges.map(({ node }) => node)),
  );
  // The API names the filter field at fault (filter.since): show it there.
  if (deliveries.code) showError(form, deliveries);
}
