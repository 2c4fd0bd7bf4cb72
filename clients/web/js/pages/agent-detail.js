import { h } from "../dom.js";

export async function agentDetailPage(view) {
  view.replaceChildren(h("h2", {}, "TODO"));
}
