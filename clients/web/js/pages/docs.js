import { codeBlock, detailHref, h } from "../dom.js";

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes (stable links to a section). */
function slug(title) {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .trim()
    .replace(/ /g, "-");
}

/** The README's `##` and `###` sections, each with its text up to the next heading of either level. */
function sections(markdown) {
  const found = [];
  let current = null;
  let inCode = false;
  for (const line of markdown.split("\n")) {
    // A `#` inside a fenced code block is a shell comment, not a heading.
    if (line.startsWith("```")) inCode = !inCode;
    const heading = !inCode && /^(##|###) (.+)$/.exec(line);
    if (heading) {
      current = { level: heading[1].length, title: heading[2].trim(), lines: [] };
      current.slug = slug(current.title);
      found.push(current);
    } else current?.lines.push(line);
  }
  return found;
}

/**
 * Docs: GraphiQL (this server's /graphql in a browser) and the README by section. The README is served next to the
 * panel as text; a section opens here as that text (#/docs/<section>).
 */
export async function docsPage(view, sectionSlug) {
  const response = await fetch("/console/README.md");
  const all = response.ok ? sections(await response.text()) : [];
  const open = sectionSlug ? all.find((section) => section.slug === sectionSlug) : null;
  if (open) {
    view.replaceChildren(
      h("p", {}, h("a", { href: "#/docs" }, "← Docs")),
      h("h2", {}, open.title),
      codeBlock(open.lines.join("\n").trim(), `README: ${open.title}`, { class: "code doc", "data-testid": "section" }),
    );
    return;
  }
  view.replaceChildren(
    h("h2", {}, "Docs"),
    h(
      "p",
      {},
      h("a", { href: "/graphql", target: "_blank", rel: "noopener" }, "GraphiQL"),
      ": explore and try the GraphQL API in the browser (send your key as ",
      h("span", { class: "mono" }, '{"Authorization": "Bearer <key>"}'),
      " in its headers).",
    ),
    h("h3", {}, "README"),
    all.length
      ? h(
          "ul",
          { class: "toc" },
          all.map((section) =>
            h(
              "li",
              { class: section.level === 3 ? "sub" : "" },
              h("a", { href: detailHref("docs", section.slug) }, section.title),
            ),
          ),
        )
      : h("p", { class: "muted" }, "The README is not available from this server."),
  );
}
