import { gql } from "../api.js";
import { clearErrors, confirmDialog, field, h, isoFromLocal, say, showError } from "../dom.js";

const EXPORT = `query ($filter: DeliveryFilter, $format: ExportFormat!) {
  exportDeliveries(filter: $filter, format: $format, limit: 10000) { __typename
    ... on DeliveryExport { data contentType rowCount truncated } ... on Error { code message field } } }`;
const RECOVER = `mutation ($endpointId: ID!, $since: DateTime!, $dryRun: Boolean!) {
  recoverEndpoint(endpointId: $endpointId, since: $since, dryRun: $dryRun) { __typename
    ... on RecoverResult { count dryRun } ... on Error { code message field } } }`;

/** Hands text to the browser as a file download (the data never leaves the page). */
function download(text, contentType, filename) {
  const url = URL.createObjectURL(new Blob([text], { type: contentType }));
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The click has started the download; the URL is not needed after it.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Export of the deliveries the filter above shows (`filter()` reads it), as CSV or NDJSON. */
export function exportForm(filter) {
  const form = h(
    "form",
    { "aria-label": "Export deliveries", class: "inline" },
    h(
      "label",
      {},
      "Format",
      h(
        "select",
        { name: "format", "aria-label": "Format" },
        h("option", { value: "CSV" }, "CSV"),
        h("option", { value: "NDJSON" }, "NDJSON (with each body as sent)"),
      ),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Export")),
    h("span", { class: "field-error", "data-error-for": "filter", "aria-live": "polite" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const format = new FormData(form).get("format");
    const { exportDeliveries: exported } = await gql(EXPORT, { filter: filter(), format });
    if (exported.code) return showError(form, { ...exported, field: "filter" });
    clearErrors(form);
    download(exported.data, exported.contentType, `deliveries.${format === "CSV" ? "csv" : "ndjson"}`);
    say(
      `Exported ${exported.rowCount} deliveries as ${format}${exported.truncated ? " (stopped at the size limit: narrow the dates to read on)" : ""}`,
    );
  });
  return form;
}

/**
 * Recover an endpoint: its failed deliveries since a time are queued again. Count first (a dry run, nothing is
 * sent), then Recover the number counted, confirmed.
 */
export function recoverForm(endpoints) {
  const outcome = h("p", { class: "muted", "data-testid": "recover-count", "aria-live": "polite" });
  const recover = h("button", { type: "button", class: "danger", hidden: true }, "Recover");
  const form = h(
    "form",
    { "aria-label": "Recover an endpoint" },
    h("h3", {}, "Recover an endpoint"),
    h(
      "div",
      { class: "field" },
      h(
        "label",
        {},
        "Endpoint",
        h(
          "select",
          { name: "endpointId", required: true, "aria-label": "Endpoint to recover" },
          h("option", { value: "" }, "Choose an endpoint"),
          endpoints.map((endpoint) => h("option", { value: endpoint.id }, endpoint.name)),
        ),
      ),
      h("span", { class: "field-error", "data-error-for": "endpointId", "aria-live": "polite" }),
    ),
    field("Failed since", "since", { type: "datetime-local", required: true }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Count failed deliveries"), recover),
    outcome,
  );
  let counted = null;
  const ask = async (dryRun) => {
    const data = new FormData(form);
    const variables = { endpointId: data.get("endpointId"), since: isoFromLocal(data.get("since")), dryRun };
    const { recoverEndpoint: result } = await gql(RECOVER, variables);
    if (result.code) {
      recover.hidden = true;
      outcome.textContent = "";
      showError(form, result);
      return null;
    }
    clearErrors(form);
    return { ...result, variables };
  };
  // A changed endpoint or time makes the count stale: count again before recovering.
  form.addEventListener("input", () => {
    counted = null;
    recover.hidden = true;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    counted = await ask(true);
    if (!counted) return;
    const name = form.elements.endpointId.selectedOptions[0]?.textContent;
    outcome.textContent = `${counted.count} failed deliver${counted.count === 1 ? "y" : "ies"} of ${name} in that window`;
    recover.textContent = `Recover ${counted.count} deliver${counted.count === 1 ? "y" : "ies"}`;
    recover.hidden = counted.count === 0;
    say(outcome.textContent);
  });
  recover.addEventListener("click", async () => {
    if (!counted) return;
    const name = form.elements.endpointId.selectedOptions[0]?.textContent;
    const confirmed = await confirmDialog(
      `Queue ${name}'s failed deliveries since then again (${counted.count} counted)? They are sent with a fresh retry schedule.`,
      "Recover",
    );
    if (!confirmed) return;
    const done = await ask(false);
    recover.hidden = true;
    counted = null;
    if (!done) return;
    outcome.textContent = `${done.count} deliver${done.count === 1 ? "y" : "ies"} of ${name} queued again`;
    say(outcome.textContent);
  });
  return form;
}
