import { describe, expect, it } from "vitest";
import { type AddressPolicy, checkUrlAtSave, classifyAddress, isAddressAllowed } from "../../src/lib/address-guard.js";
import { ValidationError } from "../../src/lib/errors.js";

const STRICT: AddressPolicy & { requireHttps: boolean } = {
  allowLoopback: false,
  allowPrivate: false,
  allowlist: [],
  requireHttps: true,
};
const DEV: AddressPolicy & { requireHttps: boolean } = {
  allowLoopback: true,
  allowPrivate: false,
  allowlist: [],
  requireHttps: false,
};

describe("address classification", () => {
  it.each([
    ["8.8.8.8", "public"],
    ["2606:4700::1111", "public"],
    ["127.0.0.1", "loopback"],
    ["127.8.9.10", "loopback"],
    ["::1", "loopback"],
    ["10.0.0.5", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["fd12:3456::1", "private"],
    ["169.254.10.10", "link_local"],
    ["fe80::1", "link_local"],
    ["169.254.169.254", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "reserved"],
    ["192.0.2.10", "reserved"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:a00:1", "private"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "metadata"],
  ])("%s is %s", (ip, kind) => {
    expect(classifyAddress(ip)).toBe(kind);
  });

  it("allows loopback and private addresses only when the policy says so, and allowlisted ranges always", () => {
    expect(isAddressAllowed("127.0.0.1", STRICT)).toEqual({
      allowed: false,
      reason: "127.0.0.1 is a loopback address",
    });
    expect(isAddressAllowed("127.0.0.1", DEV).allowed).toBe(true);
    expect(isAddressAllowed("10.1.2.3", DEV)).toEqual({ allowed: false, reason: "10.1.2.3 is a private address" });
    expect(isAddressAllowed("10.1.2.3", { ...STRICT, allowlist: ["10.1.0.0/16"] }).allowed).toBe(true);
    expect(isAddressAllowed("10.2.0.1", { ...STRICT, allowlist: ["10.1.0.0/16"] }).allowed).toBe(false);
    expect(isAddressAllowed("169.254.169.254", { ...DEV, allowPrivate: true })).toEqual({
      allowed: false,
      reason: "169.254.169.254 is a cloud metadata address",
    });
  });
});

describe("endpoint URLs at save time", () => {
  function refusal(url: string, policy = STRICT): ValidationError {
    try {
      checkUrlAtSave(url, policy);
    } catch (error) {
      if (error instanceof ValidationError) return error;
      throw error;
    }
    throw new Error(`${url} was accepted`);
  }

  it.each([
    ["not a url", "must be an absolute URL"],
    ["ftp://example.com/x", "must be an http(s) URL"],
    ["http://example.com/hook", "must use https"],
    ["https://user:pw@example.com/hook", "must not contain credentials"],
    ["https://10.0.0.5/hook", "refused: 10.0.0.5 is a private address"],
    ["https://[::1]/hook", "refused: ::1 is a loopback address"],
    ["https://169.254.169.254/latest/meta-data", "refused: 169.254.169.254 is a cloud metadata address"],
    ["https://[::ffff:192.168.0.1]/hook", "refused: 192.168.0.1 is a private address"],
    ["https://localhost/hook", "refused: localhost is a loopback address"],
  ])("refuses %s in production with a field error", (url, message) => {
    const error = refusal(url);
    expect(error.field).toBe("url");
    expect(error.message).toContain(message);
  });

  it("accepts public https URLs in production and http://localhost on a developer machine", () => {
    expect(checkUrlAtSave("https://hooks.example.com/in?x=1", STRICT)).toBe("https://hooks.example.com/in?x=1");
    expect(checkUrlAtSave("http://localhost:3000/hook", DEV)).toBe("http://localhost:3000/hook");
    expect(checkUrlAtSave("http://127.0.0.1:3000/hook", DEV)).toBe("http://127.0.0.1:3000/hook");
    expect(refusal("http://10.0.0.8/hook", DEV).message).toContain("private address");
  });
});
