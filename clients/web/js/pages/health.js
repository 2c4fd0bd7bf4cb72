import { gql } from "../api.js";
import { dataTable, formatTime, h } from "../dom.js";

const WINDOW = "attempts successRate p50Ms p95Ms p99Ms";

function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${Math.round(rate * 1000) / 10} %`;
}

function ms(value) {
  return value === null || value === undefined ? "—" : `${value} ms`;
}

export async function healthPage(view) {
  const { endpoints } = await gql(`{ endpoints(first: 100) { edges { node { id name
    health { state consecutiveFailures lastSuccessAt lastFailureAt lastHour { ${WINDOW} } lastDay { ${WINDOW} } } } } } }`);
  const rows = endpoints.edges.map(({ node }) => {
    const { health } = node;
    return h(
      "tr",
      {},
      h("td", {}, node.name),
      h(
        "td",
        { class: `state-${health.state}` },
        health.state,
        health.consecutiveFailures ? ` (${health.consecutiveFailures} failures)` : "",
      ),
      h("td", {}, `${health.lastHour.attempts} / ${percent(health.lastHour.successRate)}`),
      h("td", {}, `${ms(health.lastHour.p50Ms)} · ${ms(health.lastHour.p95Ms)} · ${ms(health.lastHour.p99Ms)}`),
      h("td", {}, `${health.lastDay.attempts} / ${percent(health.lastDay.successRate)}`),
      h("td", {}, `${ms(health.lastDay.p50Ms)} · ${ms(health.lastDay.p95Ms)} · ${ms(health.lastDay.p99Ms)}`),
      h("td", {}, formatTime(health.lastSuccessAt)),
    );
  });
  view.replaceChildren(
    h("h2", {}, "Endpoint health"),
    rows.length
      ? dataTable(
          "Endpoint health",
          [
            "Endpoint",
            "State",
            "Last hour: attempts / success",
            "Last hour p50 · p95 · p99",
            "Last day: attempts / success",
            "Last day p50 · p95 · p99",
            "Last success",
          ],
          rows,
        )
      : h("p", { class: "muted" }, "No endpoints yet."),
  );
}
