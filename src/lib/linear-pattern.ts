import { RE2JS } from "re2js";

/**
 * JSON Schema `pattern`s are ECMA-262 regular expressions (with the `u` flag) written by tenants. V8 backtracks:
 * `^(a+)+$` against 28 `a`s and a `!` holds the event loop for seconds. RE2 matches in time linear in the input,
 * at the price of refusing what needs backtracking (backreferences, lookaround). This module rewrites an ECMA
 * pattern into RE2's syntax with ECMA's meaning, where the two differ:
 * - `.` excludes all four ECMA line terminators (RE2's excludes only `\n`);
 * - `\s` / `\S` are ECMA's Unicode white space (RE2's are ASCII only);
 * - `\p{General_Category=Letter}`, `\p{Script=Greek}` and long category names become RE2's short forms;
 * - `\uD83D\uDE00` (a surrogate pair) is one code point, `\u{...}` and `\xHH` become `\x{...}`, `\cX` a control
 *   character, `\0` NUL, `[\b]` backspace, `[]` nothing and `[^]` anything.
 * The pattern must already be valid ECMA syntax under the `u` flag (ajv-formats' `regex` format checks that when the
 * schema is validated against its meta-schema), which keeps this rewrite to the strict grammar, without Annex B.
 */

/** Why a pattern cannot run on the linear-time engine, for a person to read. */
export class PatternRefused extends Error {
  /** The refused pattern, set by compileLinearPattern. */
  pattern = "";
}

/** ECMA-262 WhiteSpace and LineTerminator, as code point ranges: what `\s` matches. */
const WHITE_SPACE: ReadonlyArray<readonly [number, number]> = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];

function complement(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const result: Array<[number, number]> = [];
  let next = 0;
  for (const [low, high] of ranges) {
    if (low > next) result.push([next, low - 1]);
    next = high + 1;
  }
  if (next <= 0x10ffff) result.push([next, 0x10ffff]);
  return result;
}

const hex = (codePoint: number) => `\\x{${codePoint.toString(16)}}`;
/** The ranges as the inside of an RE2 character class. */
const classBody = (ranges: ReadonlyArray<readonly [number, number]>) =>
  ranges.map(([low, high]) => (low === high ? hex(low) : `${hex(low)}-${hex(high)}`)).join("");

const SPACE_BODY = classBody(WHITE_SPACE);
const NON_SPACE_BODY = classBody(complement(WHITE_SPACE));
/** ECMA's `.` without the `s` flag: anything but \n, \r, U+2028 and U+2029. */
const DOT = "[^\\n\\r\\x{2028}\\x{2029}]";

/** ECMA general category long names (and aliases) to the short names RE2 knows. */
const CATEGORY_SHORT_NAMES: Readonly<Record<string, string>> = {
  Letter: "L",
  Uppercase_Letter: "Lu",
  Lowercase_Letter: "Ll",
  Titlecase_Letter: "Lt",
  Modifier_Letter: "Lm",
  Other_Letter: "Lo",
  Mark: "M",
  Combining_Mark: "M",
  Nonspacing_Mark: "Mn",
  Spacing_Mark: "Mc",
  Enclosing_Mark: "Me",
  Number: "N",
  Decimal_Number: "Nd",
  digit: "Nd",
  Letter_Number: "Nl",
  Other_Number: "No",
  Punctuation: "P",
  punct: "P",
  Connector_Punctuation: "Pc",
  Dash_Punctuation: "Pd",
  Open_Punctuation: "Ps",
  Close_Punctuation: "Pe",
  Initial_Punctuation: "Pi",
  Final_Punctuation: "Pf",
  Other_Punctuation: "Po",
  Symbol: "S",
  Math_Symbol: "Sm",
  Currency_Symbol: "Sc",
  Modifier_Symbol: "Sk",
  Other_Symbol: "So",
  Separator: "Z",
  Space_Separator: "Zs",
  Line_Separator: "Zl",
  Paragraph_Separator: "Zp",
  Other: "C",
  Control: "Cc",
  cntrl: "Cc",
  Format: "Cf",
  Surrogate: "Cs",
  Private_Use: "Co",
  Unassigned: "Cn",
};

/** `\p{...}` contents (after `\p{`, up to `}`) in RE2's terms. */
function unicodeProperty(body: string): string {
  const [name, value] = body.includes("=") ? body.split("=", 2) : [null, body];
  if (name === "Script_Extensions" || name === "scx") {
    throw new PatternRefused(`\\p{${body}}: Script_Extensions is not supported (use Script=...)`);
  }
  const property = value ?? "";
  return CATEGORY_SHORT_NAMES[property] ?? property;
}

const isHex = (text: string) => /^[0-9A-Fa-f]+$/.test(text);
const HIGH_SURROGATE = /^[dD][89abAB][0-9A-Fa-f]{2}$/;
const LOW_SURROGATE = /^[dD][c-fC-F][0-9A-Fa-f]{2}$/;

/** Rewrites one ECMA (u-mode) pattern into RE2 syntax. @throws PatternRefused for backreferences and lookaround. */
export function toRe2Syntax(source: string): string {
  const chars = Array.from(source); // code points, as the u flag reads the pattern
  let out = "";
  let i = 0;
  let inClass = false;

  /** An escape at chars[i] === "\\"; returns the RE2 text and advances i. */
  function readEscape(): string {
    const next = chars[i + 1] ?? "";
    i += 2;
    switch (next) {
      case "s":
        return inClass ? SPACE_BODY : `[${SPACE_BODY}]`;
      case "S":
        return inClass ? NON_SPACE_BODY : `[${NON_SPACE_BODY}]`;
      case "b":
        return inClass ? "\\x{8}" : "\\b";
      case "0":
        return "\\x{0}";
      case "c": {
        const letter = chars[i] ?? "";
        i += 1;
        return hex((letter.codePointAt(0) ?? 0) % 32);
      }
      case "x": {
        const digits = chars.slice(i, i + 2).join("");
        i += 2;
        return hex(Number.parseInt(digits, 16));
      }
      case "u":
        return unicodeEscape();
      case "p":
      case "P": {
        const close = chars.indexOf("}", i);
        const body = chars.slice(i + 1, close).join("");
        i = close + 1;
        return `\\${next}{${unicodeProperty(body)}}`;
      }
      case "k":
        throw new PatternRefused("named backreferences (\\k<name>) need backtracking");
      default:
        if (/[1-9]/.test(next)) throw new PatternRefused(`backreferences (\\${next}) need backtracking`);
        // \d \D \w \W \B \f \n \r \t \v and escaped syntax characters mean the same to RE2.
        return `\\${next}`;
    }
  }

  /** After `\u`: `{...}`, or four hex digits, joined with a following `\uDC00`-`\uDFFF` into one code point. */
  function unicodeEscape(): string {
    if (chars[i] === "{") {
      const close = chars.indexOf("}", i);
      const digits = chars.slice(i + 1, close).join("");
      i = close + 1;
      return hex(Number.parseInt(digits, 16));
    }
    const unit = chars.slice(i, i + 4).join("");
    i += 4;
    const low = chars.slice(i + 2, i + 6).join("");
    if (HIGH_SURROGATE.test(unit) && chars[i] === "\\" && chars[i + 1] === "u" && LOW_SURROGATE.test(low)) {
      i += 6;
      const high = Number.parseInt(unit, 16);
      return hex(0x10000 + (high - 0xd800) * 0x400 + (Number.parseInt(low, 16) - 0xdc00));
    }
    if (!isHex(unit)) throw new PatternRefused(`invalid \\u escape: \\u${unit}`);
    return hex(Number.parseInt(unit, 16));
  }

  while (i < chars.length) {
    const char = chars[i] ?? "";
    if (char === "\\") {
      out += readEscape();
      continue;
    }
    if (inClass) {
      if (char === "]") inClass = false;
      out += char === "[" ? "\\[" : char;
      i += 1;
      continue;
    }
    if (char === "[") {
      const negated = chars[i + 1] === "^";
      const first = i + (negated ? 2 : 1);
      if (chars[first] === "]") {
        // ECMA's [] matches nothing and [^] anything; RE2 would read the `]` as a member.
        out += negated ? "[\\x{0}-\\x{10ffff}]" : "[^\\x{0}-\\x{10ffff}]";
        i = first + 1;
        continue;
      }
      inClass = true;
      out += negated ? "[^" : "[";
      i = first;
      continue;
    }
    if (char === ".") {
      out += DOT;
      i += 1;
      continue;
    }
    if (char === "(" && chars[i + 1] === "?") {
      const kind = chars.slice(i + 2, i + 4).join("");
      if (kind.startsWith("=") || kind.startsWith("!") || kind === "<=" || kind === "<!") {
        throw new PatternRefused(`lookahead and lookbehind ((?=, (?!, (?<=, (?<!) need backtracking`);
      }
      if (/^[A-Za-z-]/.test(kind)) {
        // Regular expression modifiers ((?i:...), (?s-m:...)) are newer than Node 20's V8; RE2 reads them with its own
        // meaning, and our rewrite of `.` and `\s` assumes no flags.
        throw new PatternRefused("inline modifiers ((?i:...), (?s:...)) are not supported");
      }
      if (kind.startsWith("<")) {
        // A named group: nothing reads captures (no backreferences), and ECMA allows names RE2 does not.
        i = chars.indexOf(">", i) + 1;
        out += "(?:";
        continue;
      }
    }
    out += char;
    i += 1;
  }
  return out;
}

/** What ajv needs of a regular expression; `toString` must differ per pattern (ajv keys its scope by it). */
export interface LinearPattern {
  test(text: string): boolean;
  toString(): string;
}

/**
 * Compiles an ECMA pattern for linear-time matching, unanchored like `RegExp.prototype.test`.
 * @throws PatternRefused when RE2 cannot run it (backreferences, lookaround, repeat counts over 1000, unknown
 * Unicode properties...), with the reason.
 */
export function compileLinearPattern(source: string): LinearPattern {
  let compiled: RE2JS;
  try {
    // ECMA syntax first (V8 parses without matching, in linear time), so the rewrite only sees valid u-mode patterns.
    new RegExp(source, "u");
    compiled = RE2JS.compile(toRe2Syntax(source));
  } catch (error) {
    const refusal =
      error instanceof PatternRefused
        ? error
        : new PatternRefused((error as Error).message.replace(/^error parsing regexp: /, ""));
    refusal.pattern = source;
    throw refusal;
  }
  return {
    test: (text) => compiled.test(text),
    toString: () => `/${source}/u (RE2)`,
  };
}

/**
 * compileLinearPattern in the shape of ajv's `code.regExp` option, so every `pattern` and `patternProperties` key of
 * a tenant's schema runs on RE2. (`code` names it in standalone output, which we never generate.)
 */
export const linearRegExpEngine = Object.assign((source: string, _flags: string) => compileLinearPattern(source), {
  code: "linearRegExpEngine",
});
