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
