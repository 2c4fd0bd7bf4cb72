import { gql } from "../api.js";
import { checkbox, field, h, say, showError } from "../dom.js";

const FIELDS = `instance { metricsEnabled metricsPort metricsListener { boundPort error } publicUrl allowInsecureUrls
    allowedPrivateRanges defaultRetryPolicy { delaysSeconds } }
  tenant { attemptRetentionDays consoleRetentionDays defaultInboundRateLimitPerMinute }`;

/** "a, b" -> ["a", "b"] */
function list(text) {
  return String(text ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

/** Where the metrics listener is now: the asked-for port may be busy, and the API says why. */
function listenerNote(listener) {
  if (listener?.boundPort) return `Listening on port ${listener.boundPort}.`;
  return listener?.error ?? "This process serves no metrics.";
}

/**
 * The numbers are not range-checked in the browser on purpose: the server owns the limits and names the field it
 * refuses, which then shows under that field.
 */
function settingsForm(instance, tenant) {
  return h(
    "form",
    { "aria-label": "Settings" },
    h("h3", {}, "Instance (needs the operator's instance:admin)"),
    field("Metrics port", "metricsPort", { type: "number", value: instance.metricsPort }),
    h("p", { class: "muted" }, listenerNote(instance.metricsListener)),
    checkbox("Serve /metrics", "metricsEnabled", { checked: instance.metricsEnabled }),
    field("Public URL (the base of agents' webhook URLs)", "publicUrl", { value: instance.publicUrl }),
    checkbox("Allow http:// and loopback endpoints", "allowInsecureUrls", { checked: instance.allowInsecureUrls }),
    field("Allowed private ranges (comma-separated CIDRs)", "allowedPrivateRanges", {
      value: instance.allowedPrivateRanges.join(", "),
    }),
    field("Default retry delays in seconds (comma-separated)", "delaysSeconds", {
      value: instance.defaultRetryPolicy.delaysSeconds.join(", "),
    }),
    h("h3", {}, "This tenant"),
    field("Keep delivery attempts (days)", "attemptRetentionDays", {
      type: "number",
      value: tenant.attemptRetentionDays,
    }),
    field("Keep console events (days)", "consoleRetentionDays", { type: "number", value: tenant.consoleRetentionDays }),
    field("Default inbound rate limit (per minute)", "defaultInboundRateLimitPerMinute", {
      type: "number",
      value: tenant.defaultInboundRateLimitPerMinute,
    }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save settings")),
  );
}

/** Only what changed: instance fields need instance:admin, so an unchanged one must not make a tenant admin's save fail. */
function changes(form, instance, tenant) {
  const data = new FormData(form);
  const wanted = {
    attemptRetentionDays: Number(data.get("attemptRetentionDays")),
    consoleRetentionDays: Number(data.get("consoleRetentionDays")),
    defaultInboundRateLimitPerMinute: Number(data.get("defaultInboundRateLimitPerMinute")),
    metricsPort: Number(data.get("metricsPort")),
    metricsEnabled: data.get("metricsEnabled") === "on",
    // Empty puts the public URL back to its default (this server's address).
    publicUrl: String(data.get("publicUrl")).trim() || null,
    allowInsecureUrls: data.get("allowInsecureUrls") === "on",
    allowedPrivateRanges: list(data.get("allowedPrivateRanges")),
  };
  const current = { ...instance, ...tenant };
  const input = Object.fromEntries(
    Object.entries(wanted).filter(([name, value]) => JSON.stringify(value) !== JSON.stringify(current[name])),
  );
  const delays = list(data.get("delaysSeconds")).map(Number);
  if (JSON.stringify(delays) !== JSON.stringify(instance.defaultRetryPolicy.delaysSeconds))
    input.defaultRetryPolicy = { delaysSeconds: delays, maxAttempts: delays.length + 1 };
  return input;
}

export async function settingsPage(view) {
  const { settings } = await gql(`{ settings { ${FIELDS} } }`);
  const { instance, tenant } = settings;
  const form = settingsForm(instance, tenant);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = changes(form, instance, tenant);
    if (Object.keys(input).length === 0) return say("Nothing changed");
    const { updateSettings: result } = await gql(
      `mutation ($input: UpdateSettingsInput!) { updateSettings(input: $input) {
        __typename ... on Error { code message field } } }`,
      { input },
    );
    if (result.code) {
      // The retry policy is edited as one list of delays.
      const fieldName = result.field?.startsWith("defaultRetryPolicy") ? "delaysSeconds" : result.field;
      return showError(form, { ...result, field: fieldName });
    }
    say("Settings saved");
    await settingsPage(view);
  });
  view.replaceChildren(h("h2", {}, "Settings"), form);
}
