import { h } from "../dom.js";

export async function docsPage(view) {
  view.replaceChildren(h("h2", {}, "TODO"));
}
