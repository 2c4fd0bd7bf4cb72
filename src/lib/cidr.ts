import { BlockList, isIP } from "node:net";

/** One parsed range: an IPv4 or IPv6 address and a prefix length valid for its family. */
export interface CidrRange {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** Why a text is not a range, phrased to follow the entry in a message (`"10.0.0.0/40" ...`). */
export type CidrProblem = string;

// A prefix is plain decimal digits: Number() would also take "", " 8", "0x8" and "1e1".
const PREFIX = /^\d{1,3}$/;

/**
 * Parses `address` or `address/prefix` (IPv4 prefix 0-32, IPv6 0-128). The one parser for every place that takes
 * ranges: the environment, the settings and the address guard. node:net's isIP judges the address; BlockList then
 * accepts every range this returns, so a range that passed validation can never throw while a delivery is checked.
 * Zone ids (`fe80::1%eth0`) are refused: a range is not tied to an interface.
 */
export function parseCidr(text: string): CidrRange | { problem: CidrProblem } {
  const trimmed = text.trim();
  const slash = trimmed.indexOf("/");
  const address = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash < 0 ? undefined : trimmed.slice(slash + 1);
  const version = address.includes("%") ? 0 : isIP(address);
  if (version === 0) return { problem: "is not an IPv4 or IPv6 address or CIDR range" };
  const family = version === 6 ? "ipv6" : "ipv4";
  const maxPrefix = version === 6 ? 128 : 32;
  if (prefixText === undefined) return { address, prefix: maxPrefix, family };
  if (!PREFIX.test(prefixText) || Number(prefixText) > maxPrefix)
    return { problem: `has a prefix length that is not a whole number from 0 to ${maxPrefix}` };
  return { address, prefix: Number(prefixText), family };
}

/** Type guard for {@link parseCidr}'s refusal. */
export function isCidrProblem(parsed: CidrRange | { problem: CidrProblem }): parsed is { problem: CidrProblem } {
  return "problem" in parsed;
}

/**
 * Parses a list, calling `refuse` with the first bad entry (its index and text, and why) for the caller to throw its
 * own kind of error: a ConfigError naming the variable, a ValidationError naming the field.
 */
export function parseCidrList(
  list: readonly string[],
  refuse: (problem: { index: number; entry: string; message: string }) => never,
): CidrRange[] {
  return list.map((entry, index) => {
    const parsed = parseCidr(entry);
    if (isCidrProblem(parsed)) return refuse({ index, entry, message: `"${entry.trim()}" ${parsed.problem}` });
    return parsed;
  });
}

/** A BlockList holding the ranges, for node:net's own matching (IPv4 and IPv6). */
export function blockListOf(ranges: readonly CidrRange[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) list.addSubnet(range.address, range.prefix, range.family);
  return list;
}
