/** Small DOM helpers: building elements, status messages, confirmations and copying. No framework. */

/** h("button", { onclick, class: "primary" }, "Save"): attributes, `on*` listeners and children in one call. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Announces a message in the page's aria-live status line. */
export function say(message, { error = false } = {}) {
  const status = document.getElementById("status");
  status.textContent = message;
  status.classList.toggle("error", error);
}

let dialogCount = 0;

/**
 * A modal confirmation: resolves true on confirm, false on Cancel or Escape. Focuses its first control (Cancel, the
 * safe choice) and gives focus back to whatever had it, so keyboard users stay where they were.
 */
export function confirmDialog(message, confirmLabel = "Confirm") {
  return new Promise((resolve) => {
    const messageId = `dialog-message-${++dialogCount}`;
    const opener = document.activeElement;
    const dialog = h("dialog", { "aria-labelledby": messageId, "data-testid": "confirm-dialog" });
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      if (opener?.isConnected) opener.focus();
      resolve(answer);
    };
    const cancel = h("button", { type: "button", onclick: () => finish(false) }, "Cancel");
    dialog.append(
      h("p", { id: messageId }, message),
      h(
        "div",
        { class: "actions" },
        cancel,
        h("button", { type: "button", class: "danger", onclick: () => finish(true) }, confirmLabel),
      ),
    );
    // Escape fires `cancel`; handle it ourselves so the promise settles and the element goes away.
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** Copies text, saying so; resolves false (and says to copy by hand) when the clipboard is not available. */
export async function copy(text, what = "Copied") {
  try {
    await navigator.clipboard.writeText(text);
    say(`${what} to the clipboard`);
    return true;
  } catch {
    say("Copy is not available here: select the text and copy it", { error: true });
    return false;
  }
}

/**
 * A secret shown this once, with Copy and Done. Done calls `hide` (which should leave only the masked form on the
 * page), and so does a successful Copy unless `keepAfterCopy`: an agent's secret is pasted into another system's
 * settings, where a failed paste needs it once more, while an API key is taken once.
 */
export function shownOnce(title, secret, hide, { keepAfterCopy = false } = {}) {
  return h(
    "div",
    { class: "once", role: "alert", "data-testid": "shown-once" },
    h(
      "p",
      {},
      `${title} — shown only now. Keep it secret: anyone who has it can sign requests as you. Copy it somewhere safe:`,
    ),
    h("p", { class: "secret", "data-testid": "secret-value" }, secret),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        {
          type: "button",
          class: "primary",
          onclick: () => copy(secret, "Secret copied").then((copied) => copied && !keepAfterCopy && hide()),
        },
        "Copy",
      ),
      h("button", { type: "button", onclick: hide }, "Done"),
    ),
  );
}

/** A checkbox with its label beside it (text labels sit above their input; checkboxes read better inline). */
export function checkbox(label, name, attributes = {}) {
  return h("label", { class: "check" }, h("input", { type: "checkbox", name, ...attributes }), label);
}

let fieldCount = 0;

/**
 * A labelled input with a slot under it for the API's error about that field. The slot sits outside the label and
 * is tied to the input by aria-describedby, so an error is read with the field but does not become its name.
 */
export function field(label, name, { multiline = false, value, ...attributes } = {}) {
  const errorId = `field-error-${++fieldCount}`;
  const input = h(multiline ? "textarea" : "input", { name, "aria-describedby": errorId, ...attributes });
  if (value !== undefined && value !== null) input.value = String(value);
  return h(
    "div",
    { class: "field" },
    h("label", {}, label, input),
    h("span", { class: "field-error", id: errorId, "data-error-for": name, "aria-live": "polite" }),
  );
}

/** Shows a typed error result next to its field (or only in the status line when it names none we show). */
export function showError(form, result) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  // The API names nested input paths (input.url, defaultRetryPolicy.delaysSeconds): the last part is our field.
  // A slot for the whole path comes first (headers.x-api-key: one header's row), then one for its last part.
  const name = result.field?.split(".").pop();
  const slot = name
    ? (form.querySelector(`[data-error-for="${CSS.escape(result.field)}"]`) ??
      form.querySelector(`[data-error-for="${CSS.escape(name)}"]`))
    : null;
  if (slot) {
    slot.textContent = result.message;
    const input = form.querySelector(`[name="${CSS.escape(slot.dataset.errorFor)}"]`);
    input?.setAttribute("aria-invalid", "true");
    input?.focus();
  }
  say(`${result.code}: ${result.message}`, { error: true });
}

/** Clears the error slots after a successful save. */
export function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** A date-time from the API in the reader's locale; a dash when there is none. */
export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** A table with a caption for screen readers, column headings and body rows. */
export function dataTable(caption, headings, rows) {
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, caption),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headings.map((title) => h("th", { scope: "col" }, title)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

/** The hash of one object's page: the id is the API's, opaque, only URI-encoded (app.js decodes it back). */
export function detailHref(section, id) {
  return `#/${section}/${encodeURIComponent(id)}`;
}

/** JSON (or text) in a scrollable, focusable block, so keyboard users can scroll a long body too. */
export function codeBlock(value, label, attributes = {}) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return h("pre", { class: "code", tabindex: 0, "aria-label": label, ...attributes }, text ?? "—");
}

/** A body that may be JSON: pretty-printed when it is, as received when it is not. */
export function prettyBody(text) {
  if (text === null || text === undefined || text === "") return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Header names and values as a two-column table; "None" when there are none. */
export function headersTable(caption, headers) {
  const entries = Object.entries(headers ?? {});
  if (!entries.length) return h("p", { class: "muted" }, "None");
  return h(
    "table",
    { class: "headers" },
    h("caption", { class: "visually-hidden" }, caption),
    h(
      "tbody",
      {},
      entries.map(([name, value]) =>
        h("tr", {}, h("th", { scope: "row", class: "mono" }, name), h("td", { class: "mono" }, String(value))),
      ),
    ),
  );
}

/**
 * Parses a textarea's JSON, or shows why not under it (before anything is sent) and returns undefined.
 * `emptyIsNull`: an empty field means null (no schema, say).
 */
export function parseJsonField(form, name, { emptyIsNull = false } = {}) {
  const text = String(new FormData(form).get(name) ?? "").trim();
  if (!text && emptyIsNull) return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    showError(form, { code: "INVALID_JSON", message: `Not valid JSON: ${error.message}`, field: name });
    return undefined;
  }
}

/** A datetime-local input's value as the API's ISO date-time, or null when empty. */
export function isoFromLocal(value) {
  return value ? new Date(String(value)).toISOString() : null;
}
