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

/** A modal confirmation: resolves true on confirm, false on cancel or Escape. Focuses the safe choice first. */
export function confirmDialog(message, confirmLabel = "Confirm") {
  return new Promise((resolve) => {
    const dialog = h("dialog", { "aria-label": "Confirm" });
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    const cancel = h("button", { type: "button", onclick: () => finish(false) }, "Cancel");
    dialog.append(
      h("p", {}, message),
      h(
        "div",
        { class: "actions" },
        cancel,
        h("button", { type: "button", class: "danger", onclick: () => finish(true) }, confirmLabel),
      ),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** Copies text, saying so; falls back to selecting it when the clipboard is not available. */
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

/** A labelled input; `errors` maps field names to the message shown under it. */
export function field(label, name, attributes = {}) {
  const input = attributes.multiline
    ? h("textarea", { name, ...attributes, multiline: null })
    : h("input", { name, ...attributes });
  if (attributes.value !== undefined && attributes.multiline) input.value = attributes.value;
  return h(
    "label",
    {},
    label,
    input,
    h("span", { class: "field-error", "data-error-for": name, "aria-live": "polite" }),
  );
}

/** Shows a typed error result next to its field (or in the status line when it names none). */
export function showError(form, result) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  const name = result.field?.split(".").pop();
  const slot = name
    ? (form.querySelector(`[data-error-for="${name}"]`) ?? form.querySelector(`[data-error-for="${result.field}"]`))
    : null;
  if (slot) slot.textContent = result.message;
  say(`${result.code}: ${result.message}`, { error: true });
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}
