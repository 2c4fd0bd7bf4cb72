import { BlockList, isIP } from "node:net";
import { LRUCache } from "lru-cache";
import { blockListOf, isCidrProblem, parseCidr } from "./cidr.js";
import { ValidationError } from "./errors.js";

/** What kind of address an IP is, as far as outbound requests care. */
export type AddressClass = "public" | "loopback" | "private" | "link_local" | "metadata" | "unspecified" | "reserved";

/** Which non-public addresses deliveries may reach. */
export interface AddressPolicy {
  allowLoopback: boolean;
  allowPrivate: boolean;
  /** Addresses or CIDR ranges allowed whatever their class (e.g. "10.1.0.0/16"). */
  allowlist: readonly string[];
}

type Range = [address: string, prefix: number];

// Checked in this order, so the cloud metadata address is not mistaken for plain link-local.
const CLASSES: [AddressClass, Range[]][] = [
  [
    "metadata",
    [
      ["169.254.169.254", 32],
      ["fd00:ec2::254", 128],
      ["100.100.100.200", 32],
    ],
  ],
  [
    "loopback",
    [
      ["127.0.0.0", 8],
      ["::1", 128],
    ],
  ],
  [
    "unspecified",
    [
      ["0.0.0.0", 8],
      ["::", 128],
    ],
  ],
  [
    "private",
    [
      ["10.0.0.0", 8],
      ["172.16.0.0", 12],
      ["192.168.0.0", 16],
      ["100.64.0.0", 10],
      ["fc00::", 7],
    ],
  ],
  [
    "link_local",
    [
      ["169.254.0.0", 16],
      ["fe80::", 10],
    ],
  ],
  [
    "reserved",
    [
      ["192.0.0.0", 24],
      ["192.0.2.0", 24],
      ["198.18.0.0", 15],
      ["198.51.100.0", 24],
      ["203.0.113.0", 24],
      ["224.0.0.0", 4],
      ["240.0.0.0", 4],
      ["ff00::", 8],
      ["2001:db8::", 32],
      ["64:ff9b::", 96],
      ["100::", 64],
    ],
  ],
];

function classList(ranges: readonly Range[]): BlockList {
  const list = new BlockList();
  for (const [address, prefix] of ranges) list.addSubnet(address, prefix, isIP(address) === 6 ? "ipv6" : "ipv4");
  return list;
}

const CLASS_LISTS = CLASSES.map(([name, ranges]) => [name, classList(ranges)] as const);

/** Expands an IPv6 address to its eight 16-bit groups. */
/** The eight 16-bit groups of an IPv6 address (`::` expanded, an embedded IPv4 tail folded into two groups). */
export function ipv6Groups(address: string): number[] {
  const [head = "", tail] = address.split("::");
  const parse = (part: string) => {
    if (!part) return [];
    const pieces = part.split(":");
    const last = pieces[pieces.length - 1] ?? "";
    if (last.includes(".")) {
      const octets = last.split(".").map(Number);
      pieces.splice(
        -1,
        1,
        (((octets[0] ?? 0) << 8) | (octets[1] ?? 0)).toString(16),
        (((octets[2] ?? 0) << 8) | (octets[3] ?? 0)).toString(16),
      );
    }
    return pieces.map((piece) => Number.parseInt(piece, 16));
  };
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
}

/** IPv4-mapped IPv6 (::ffff:10.0.0.1, ::ffff:a00:1) is the IPv4 address it carries; everything else is unchanged. */
export function normaliseAddress(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, "").split("%")[0] ?? ip;
  if (isIP(bare) !== 6) return bare;
  const groups = ipv6Groups(bare.toLowerCase());
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (!mapped) return bare;
  const [high = 0, low = 0] = groups.slice(6);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
}

/**
 * Classes of addresses seen, since every delivery checks its address: BlockList.check builds a SocketAddress per list
 * asked, which was 3 % of a delivery's CPU in the bench. The lists never change, so neither does an answer. Past
 * 10,000 addresses the least recently seen is classified again when it comes back.
 */
const classified = new LRUCache<string, AddressClass>({ max: 10_000 });

/** Classifies an IP literal (IPv4, IPv6, or IPv4-mapped IPv6). */
export function classifyAddress(ip: string): AddressClass {
  const address = normaliseAddress(ip);
  const known = classified.get(address);
  if (known) return known;
  const family = isIP(address) === 6 ? "ipv6" : "ipv4";
  const kind = CLASS_LISTS.find(([, list]) => list.check(address, family))?.[0] ?? "public";
  classified.set(address, kind);
  return kind;
}

/** Allowlists seen: one is in use at a time (the instance's), and each live settings change brings another. */
const allowlistCache = new LRUCache<string, BlockList>({ max: 100 });

/**
 * The allowlist as a BlockList, built once per distinct list. Entries are parsed by the one CIDR parser that the
 * configuration and the settings validate with, so a list that reached the policy parses here too; an entry that does
 * not (a row stored by an older version) is left out rather than thrown while a delivery is being checked: an entry
 * left out allows less, never more.
 */
function allowlistOf(allowlist: readonly string[]): BlockList {
  const key = allowlist.join(",");
  let list = allowlistCache.get(key);
  if (!list) {
    list = blockListOf(allowlist.map(parseCidr).flatMap((range) => (isCidrProblem(range) ? [] : [range])));
    allowlistCache.set(key, list);
  }
  return list;
}

function allowlisted(address: string, allowlist: readonly string[]): boolean {
  if (allowlist.length === 0) return false;
  return allowlistOf(allowlist).check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
}

const DESCRIPTIONS: Record<Exclude<AddressClass, "public">, string> = {
  loopback: "a loopback address",
  private: "a private address",
  link_local: "a link-local address",
  metadata: "a cloud metadata address",
  unspecified: "an unspecified address",
  reserved: "a reserved address",
};

/** Whether the policy lets a delivery connect to this address, and if not, why. */
export function isAddressAllowed(
  ip: string,
  policy: AddressPolicy,
): { allowed: true } | { allowed: false; reason: string } {
  const address = normaliseAddress(ip);
  const kind = classifyAddress(address);
  if (kind === "public" || allowlisted(address, policy.allowlist)) return { allowed: true };
  if (kind === "loopback" && policy.allowLoopback) return { allowed: true };
  if (kind === "private" && policy.allowPrivate) return { allowed: true };
  return { allowed: false, reason: `${address} is ${DESCRIPTIONS[kind]}` };
}

/**
 * Save-time checks of an endpoint URL: absolute http(s), https when required, no credentials, and no literal address
 * (or `localhost`) the policy refuses. Other names are resolved and checked at connect time, every time.
 * @throws ValidationError on `url` saying why.
 */
export function checkUrlAtSave(url: string, policy: AddressPolicy & { requireHttps: boolean }, field = "url"): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError("must be an absolute URL such as https://example.com/webhooks", field);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
    throw new ValidationError("must be an http(s) URL", field);
  if (policy.requireHttps && parsed.protocol !== "https:") {
    throw new ValidationError("must use https (http is allowed only where insecure URLs are enabled)", field);
  }
  if (parsed.username || parsed.password)
    throw new ValidationError("must not contain credentials; use custom headers", field);
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    const verdict = isAddressAllowed(host, policy);
    if (!verdict.allowed) throw new ValidationError(`refused: ${verdict.reason}`, field);
  } else if (
    (host === "localhost" || host.endsWith(".localhost")) &&
    !policy.allowLoopback &&
    !allowlisted("127.0.0.1", policy.allowlist)
  ) {
    throw new ValidationError("refused: localhost is a loopback address", field);
  }
  parsed.hash = "";
  return parsed.toString();
}
