import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { prisma } from "../../src/db/prisma.js";
import { isAddressAllowed } from "../../src/lib/address-guard.js";
import { createOutboundClient } from "../../src/lib/http-client.js";
import { execute } from "../support/graphql.js";
import { runSignalpost, servingPort } from "../support/process.js";
import { seed } from "../support/seed.js";

/**
 * One CIDR parser for the environment, the settings and the address guard. Each of the three used to have its own:
 * `10.0.0.0/40` passed start-up and then made the guard throw on every delivery to a private address.
 */

// Each of these slipped past at least one of the three old validators.
const BAD_RANGES = [
  "10.0.0.0/40",
  "10.0.0.0/33",
  "::/129",
  "10.0.0.0/",
  "10.0.0.0/ 8",
  "10.0.0.0/0x8",
  "10.0.0.0/1e1",
  "10.0.0.0/8/9",
  "10.0.0.0/-1",
  "fe80::1%eth0/64",
  "10.0.0.0/8.5",
  "not-a-range",
];

const GOOD_RANGES = ["10.0.0.0/8", "10.1.2.3", "192.168.0.0/16", "fd00::/8", "::1", "0.0.0.0/0", "10.0.0.1/8"];

describe("CIDR ranges", () => {
  it("refuses every bad range at start-up, naming the variable", () => {
    for (const range of BAD_RANGES) {
      let error: unknown;
      try {
        loadConfig({ SIGNALPOST_ALLOWED_PRIVATE_RANGES: `192.168.0.0/16, ${range}` });
      } catch (caught) {
        error = caught;
      }
      expect(error, range).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message, range).toContain("SIGNALPOST_ALLOWED_PRIVATE_RANGES");
    }
    expect(loadConfig({ SIGNALPOST_ALLOWED_PRIVATE_RANGES: GOOD_RANGES.join(",") }).allowedPrivateRanges).toEqual(
      GOOD_RANGES,
    );
  });

  it("refuses every bad entry of SIGNALPOST_TRUSTED_PROXIES with a ConfigError naming the variable", () => {
    for (const range of BAD_RANGES) {
      expect(() => loadConfig({ SIGNALPOST_TRUSTED_PROXIES: `127.0.0.1, ${range}` }), range).toThrow(
        /SIGNALPOST_TRUSTED_PROXIES/,
      );
    }
    expect(() => loadConfig({ SIGNALPOST_TRUSTED_PROXIES: "10.0.0.1,".repeat(600) })).toThrow(
      /SIGNALPOST_TRUSTED_PROXIES.*at most 4096/,
    );
    expect(loadConfig({ SIGNALPOST_TRUSTED_PROXIES: GOOD_RANGES.join(",") }).trustedProxies).toHaveLength(
      GOOD_RANGES.length,
    );
  });

  it("makes `signalpost serve` exit 2 with the variable named", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "signalpost-cidr-"));
    const server = runSignalpost(["serve"], {
      DATABASE_URL: process.env.DATABASE_URL,
      PORT: "0",
      SIGNALPOST_DATA_DIR: dataDir,
      SIGNALPOST_ALLOWED_PRIVATE_RANGES: "10.0.0.0/40",
    });
    try {
      // A server that starts anyway is a failure too, not a hang.
      const outcome = await Promise.race([
        server.exited.then((code) => ({ exited: code })),
        servingPort(server).then((port) => ({ serving: port })),
      ]);
      expect(outcome).toEqual({ exited: 2 });
      expect(server.stderr()).toContain("SIGNALPOST_ALLOWED_PRIVATE_RANGES");
      expect(server.stderr()).toContain("10.0.0.0/40");
    } finally {
      if (server.child.exitCode === null) server.child.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("refuses every bad range in the settings with a ValidationError naming the entry", async () => {
    const operator = await seed.tenantWithKey({ scopes: ["admin", "instance:admin"] });
    for (const range of BAD_RANGES) {
      const result = await execute<{ updateSettings: { __typename: string; field?: string } }>(
        `mutation ($ranges: [String!]) { updateSettings(input: { allowedPrivateRanges: $ranges }) {
          __typename ... on Error { code field } } }`,
        { ranges: ["10.1.0.0/16", range] },
        operator.headers,
      );
      expect(result.errors, range).toBeUndefined();
      expect(result.data?.updateSettings, range).toMatchObject({
        __typename: "ValidationError",
        field: "allowedPrivateRanges.1",
      });
    }
    expect(await prisma.instanceSettings.findUnique({ where: { id: 1 } })).toBeNull();
  });

  it("never throws in the address guard, whatever the allowlist holds", () => {
    for (const range of BAD_RANGES) {
      const policy = { allowLoopback: false, allowPrivate: false, allowlist: [range, "10.1.0.0/16"] };
      // A range that cannot be parsed allows nothing; the good one next to it still works.
      expect(isAddressAllowed("10.2.0.1", policy), range).toMatchObject({ allowed: false });
      expect(isAddressAllowed("10.1.0.1", policy), range).toEqual({ allowed: true });
    }
  });

  it("reports a delivery to a private address as blocked, not as a network error, beside an unusable range", async () => {
    const client = createOutboundClient({
      policy: { allowLoopback: false, allowPrivate: false, allowlist: ["10.0.0.0/40"] },
    });
    try {
      const result = await client.post({ url: "http://10.3.0.1/hook", headers: {}, body: "{}", timeoutMs: 2_000 });
      expect(result).toMatchObject({ ok: false, error: { class: "blocked_address" } });
    } finally {
      await client.close();
    }
  });
});
