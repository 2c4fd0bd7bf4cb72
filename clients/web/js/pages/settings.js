import { gql } from "../api.js";
import { field, h, say, showError } from "../dom.js";

const FIELDS = `instance { metricsEnabled metricsPort metricsListener { boundPort error } publicUrl allowInsecureUrls allowedPrivateRanges defaultRetryPolicy { delaysSeconds } }
  tenant { attemptRetentionDays consoleRetentionDays defaultInboundRateLimitPerMinute }`;

export async function settingsPage(main) {
  const { settings } = await gql(`{ settings { ${FIELDS} } }`);
  const { instance, tenant } = settings;
  const form = h(
    "form",
    { "aria-label": "Settings" },
    h("h3", {}, "Instance (admin)"),
    field("Metrics port", "metricsPort", { type: "number", min: 1024, max: 65535, value: instance.metricsPort }),
    h(
      "p",
      { class: "muted" },
      instance.metricsListener?.boundPort
        ? `Listening on ${instance.metricsListener.boundPort}`
        : (instance.metricsListener?.error ?? "Not listening on this process"),
    ),
    h(
      "label",
      {},
      h("input", { type: "checkbox", name: "metricsEnabled", checked: instance.metricsEnabled }),
      " Serve /metrics",
    ),
    field("Public URL", "publicUrl", { type: "url", value: instance.publicUrl }),
    h(
      "label",
      {},
      h("input", { type: "checkbox", name: "allowInsecureUrls", checked: instance.allowInsecureUrls }),
      " Allow http:// and loopback endpoints",
    ),
    field("Allowed private ranges (comma-separated CIDRs)", "allowedPrivateRanges", {
      value: instance.allowedPrivateRanges.join(", "),
    }),
    field("Default retry delays in seconds (comma-separated)", "delaysSeconds", {
      value: instance.defaultRetryPolicy.delaysSeconds.join(", "),
    }),
    h("h3", {}, "This tenant"),
    field("Keep delivery attempts (days)", "attemptRetentionDays", {
      type: "number",
      min: 1,
      value: tenant.attemptRetentionDays,
    }),
    field("Keep console events (days)", "consoleRetentionDays", {
      type: "number",
      min: 1,
      value: tenant.consoleRetentionDays,
    }),
    field("Default inbound rate limit (per minute)", "defaultInboundRateLimitPerMinute", {
      type: "number",
      min: 1,
      value: tenant.defaultInboundRateLimitPerMinute,
    }),
    h("button", { type: "submit", class: "primary" }, "Save settings"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const list = (name) =>
      String(data.get(name))
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean);
    const input = {
      attemptRetentionDays: Number(data.get("attemptRetentionDays")),
      consoleRetentionDays: Number(data.get("consoleRetentionDays")),
      defaultInboundRateLimitPerMinute: Number(data.get("defaultInboundRateLimitPerMinute")),
    };
    // Instance fields only when changed: changing them needs admin, and a tenant admin may not have it.
    const instanceInput = {
      metricsPort: Number(data.get("metricsPort")),
      metricsEnabled: data.get("metricsEnabled") === "on",
      publicUrl: String(data.get("publicUrl")) || null,
      allowInsecureUrls: data.get("allowInsecureUrls") === "on",
      allowedPrivateRanges: list("allowedPrivateRanges"),
    };
    const before = { ...instance, publicUrl: instance.publicUrl };
    for (const [name, value] of Object.entries(instanceInput))
      if (JSON.stringify(value) !== JSON.stringify(before[name])) input[name] = value;
    const delays = list("delaysSeconds").map(Number);
    if (JSON.stringify(delays) !== JSON.stringify(instance.defaultRetryPolicy.delaysSeconds))
      input.defaultRetryPolicy = { delaysSeconds: delays, maxAttempts: delays.length + 1 };
    const { updateSettings } = await gql(
      `mutation ($input: UpdateSettingsInput!) { updateSettings(input: $input) { __typename ... on Error { code message field } } }`,
      { input },
    );
    if (updateSettings.code) {
      const fieldName = updateSettings.field?.startsWith("defaultRetryPolicy") ? "delaysSeconds" : updateSettings.field;
      return showError(form, { ...updateSettings, field: fieldName });
    }
    say("Settings saved");
    settingsPage(main);
  });
  main.replaceChildren(h("h2", {}, "Settings"), form);
}
