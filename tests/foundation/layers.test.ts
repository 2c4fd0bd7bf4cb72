import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

/**
 * `npm run check:layers` (dependency-cruiser with .dependency-cruiser.cjs) must fail on each thing it forbids, not
 * only pass on today's tree: a rule whose path never matches would pass forever. So it is run here on a small tree
 * that breaks every rule once, laid out like ours (a temporary folder with src/ and the repository's node_modules).
 */
describe("the layering check", () => {
  const tree = mkdtempSync(path.join(tmpdir(), "layers-"));
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  function file(relative: string, text: string): void {
    mkdirSync(path.dirname(path.join(tree, relative)), { recursive: true });
    writeFileSync(path.join(tree, relative), text);
  }

  async function violations(): Promise<string[]> {
    const result = await run(
      path.join(ROOT, "node_modules/.bin/depcruise"),
      ["src", "--config", path.join(ROOT, ".dependency-cruiser.cjs"), "--output-type", "json"],
      { cwd: tree, maxBuffer: 16 * 1024 * 1024 },
    ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }));
    const report = JSON.parse(result.stdout) as {
      summary: { violations: { rule: { name: string }; from: string; to: string }[] };
    };
    // A package resolves through the symlink to the repository's own node_modules: name it from there.
    const named = (to: string) => to.replace(/^.*node_modules\//, "node_modules/");
    return report.summary.violations.map(({ rule, from, to }) => `${rule.name}: ${from} -> ${named(to)}`).sort();
  }

  it("reports folder and file cycles, services that import GraphQL, and services that import the worker", async () => {
    symlinkSync(path.join(ROOT, "node_modules"), path.join(tree, "node_modules"), "dir");
    file("tsconfig.json", JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext" } }));
    file("package.json", JSON.stringify({ type: "module" }));
    // deliveries <-> endpoints through two different files: a folder cycle, but no file cycle.
    file("src/modules/deliveries/deliveries.service.ts", 'import "../endpoints/endpoints.service.js";\n');
    file("src/modules/endpoints/retry.ts", 'import "../deliveries/sender.js";\n');
    file("src/modules/endpoints/endpoints.service.ts", "export {};\n");
    file("src/modules/deliveries/sender.ts", "export {};\n");
    // A file cycle inside one folder (reported once, at the file where the circle is first closed).
    file("src/modules/agents/inbound.ts", 'import "./acceptance.js";\n');
    file("src/modules/agents/acceptance.ts", 'import "./inbound.js";\n');
    // Services that know GraphQL or the worker.
    file("src/graphql/context.ts", "export {};\n");
    file("src/modules/console/console-feed.ts", 'import "graphql";\nimport "../../graphql/context.js";\n');
    file("src/modules/deliveries/dispatcher.ts", "export {};\n");
    file("src/modules/deliveries/retries.service.ts", 'import "./dispatcher.js";\n');
    file("src/jobs/retention.job.ts", "export {};\n");
    file("src/jobs/kit/queue.ts", "export {};\n");
    file("src/modules/retention/retention.service.ts", 'import "../../jobs/retention.job.js";\n');
    // Allowed: a schema file imports GraphQL; a producer enqueues through the job kit.
    file("src/modules/console/console.schema.ts", 'import "graphql";\nimport "../../graphql/context.js";\n');
    file("src/modules/agents/enqueue.ts", 'import "../../jobs/kit/queue.js";\n');

    const found = await violations();
    expect(found).toEqual(
      [
        "no-folder-cycles: src/modules/deliveries -> src/modules/endpoints",
        "no-folder-cycles: src/modules/endpoints -> src/modules/deliveries",
        "no-module-cycles: src/modules/agents/acceptance.ts -> src/modules/agents/inbound.ts",
        "services-know-no-graphql: src/modules/console/console-feed.ts -> node_modules/graphql/index.mjs",
        "services-know-no-graphql: src/modules/console/console-feed.ts -> src/graphql/context.ts",
        "services-know-no-worker: src/modules/deliveries/retries.service.ts -> src/modules/deliveries/dispatcher.ts",
        "services-know-no-worker: src/modules/retention/retention.service.ts -> src/jobs/retention.job.ts",
      ].sort(),
    );
  });
});
