import { h } from "../dom.js";

export async function auditPage(view) {
  view.replaceChildren(h("h2", {}, "TODO"));
}
