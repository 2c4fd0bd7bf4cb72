import { createHash } from "node:crypto";
import type { QueryConfig } from "pg";

const names = new Map<string, string>();

/**
 * A query PostgreSQL parses and plans once per connection instead of on every call: pg prepares it under a name
 * derived from its text. On the bench machine, planning was most of PostgreSQL's CPU for a single publish (preparing
 * that statement took single publishes from 770 to 1,120 a second). Only for the hot paths' fixed statements: each
 * distinct text stays prepared on every pooled connection.
 */
export function prepared(text: string, values: unknown[] = []): QueryConfig {
  let name = names.get(text);
  if (name === undefined) {
    name = `sp_${createHash("sha256").update(text).digest("base64url").slice(0, 24)}`;
    names.set(text, name);
  }
  return { name, text, values };
}

/**
 * A model's columns as a select list (`"id", "tenantId", ...`, optionally qualified by `table`), from the generated
 * client's field enum. Prepared statements must not select `*`: once a later migration adds a column, PostgreSQL
 * refuses the statement on every connection that prepared it ("cached plan must not change result type"), so an older
 * instance still running during a rolling upgrade would fail until restarted. A list names only the columns this
 * version knows.
 */
export function columnList(fields: Readonly<Record<string, string>>, table?: string): string {
  return Object.values(fields)
    .map((column) => (table ? `${table}."${column}"` : `"${column}"`))
    .join(", ");
}

/** A statement with named parameters turned into the positional text pg prepares, and the order of the names. */
interface NamedStatement {
  name: string;
  text: string;
  order: string[];
}

const namedStatements = new Map<string, NamedStatement>();
/** `$tenantId`, `$ids`: a dollar and a name (positional `$1` and casts such as `::uuid[]` do not match). */
const NAMED_PARAMETER = /\$([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * {@link prepared} with named parameters: `$tenantId` in the text, `{ tenantId }` in `params`, so a long statement
 * (a recorded batch of attempts takes 33 arrays) is read by name instead of by counting, and a fragment shared by
 * several statements (the console-event insert) needs no offset. Each distinct text is rewritten to `$1, $2, ...`
 * once and cached with its prepared name, so a call costs a map lookup and an array of values, as before.
 * @throws Error when the text names a parameter `params` does not have (a programming error, found on first use).
 */
export function named(text: string, params: Readonly<Record<string, unknown>>): QueryConfig {
  let statement = namedStatements.get(text);
  if (statement === undefined) {
    const order: string[] = [];
    const positional = text.replace(NAMED_PARAMETER, (_, parameter: string) => {
      let index = order.indexOf(parameter);
      if (index === -1) index = order.push(parameter) - 1;
      return `$${index + 1}`;
    });
    statement = { name: prepared(positional).name as string, text: positional, order };
    namedStatements.set(text, statement);
  }
  const values = statement.order.map((parameter) => {
    if (!(parameter in params)) throw new Error(`SQL parameter $${parameter} has no value`);
    return params[parameter];
  });
  return { name: statement.name, text: statement.text, values };
}
