import { readFileSync } from "node:fs";
import semver from "semver";
import { describe, expect, it } from "vitest";

/**
 * `npm install` on the oldest Node we support must not warn EBADENGINE: every package the lockfile installs accepts
 * that Node. Packages that only raised their `engines` (the @whatwg-node 2.x line, listr2 10, sync-fetch 0.7) are held
 * at the previous line by `overrides` in package.json; @prisma/streams-local, which only `prisma dev` loads, is
 * replaced by a stand-in (tools/prisma-streams-unused).
 */
describe("Node engines", () => {
  const manifest = JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string } };
  const lockfile = JSON.parse(readFileSync("package-lock.json", "utf8")) as {
    packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
  };
  const oldestNode = semver.minVersion(manifest.engines.node)?.version ?? "";

  it("declares the oldest supported Node", () => {
    expect(oldestNode).toBe("20.19.0");
  });

  it("installs no package that refuses the oldest supported Node", () => {
    const refusing = Object.entries(lockfile.packages)
      .filter(([path, entry]) => path !== "" && !Array.isArray(entry.engines) && entry.engines?.node)
      .filter(([, entry]) => {
        const range = (entry.engines as { node: string }).node;
        return !semver.satisfies(oldestNode, range, { includePrerelease: true });
      })
      .map(([path, entry]) => `${path}@${entry.version} wants node ${(entry.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
  });
});
