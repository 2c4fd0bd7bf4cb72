import { h } from "../dom.js";

export async function eventTypesPage(view) {
  view.replaceChildren(h("h2", {}, "TODO"));
}
