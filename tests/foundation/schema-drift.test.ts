import { readFileSync } from "node:fs";
import internals from "@prisma/internals";
import { describe, expect, it } from "vitest";
import { prisma } from "../../src/db/prisma.js";

/**
 * Proves that applying prisma/migrations yields exactly the database prisma/schema.prisma describes: the same
 * tables, columns (type, precision, nullability, whether the database supplies a default), enums, primary keys,
 * unique and plain indexes (with Prisma's names) and foreign keys (with their delete rule). Migrations are written by
 * hand (Prisma's migrate engine cannot be downloaded here), so this is what keeps the two from drifting apart.
 */

type DMMF = Awaited<ReturnType<typeof internals.getDMMF>>;
type Model = DMMF["datamodel"]["models"][number];
type Field = Model["fields"][number];

const schemaText = readFileSync(new URL("../../prisma/schema.prisma", import.meta.url), "utf8");
const { datamodel } = await internals.getDMMF({ datamodel: schemaText });

const tableOf = (modelName: string) => {
  const model = datamodel.models.find((candidate) => candidate.name === modelName);
  if (!model) throw new Error(`no model ${modelName}`);
  return model.dbName ?? model.name;
};
const columnOf = (model: Model, fieldName: string) => {
  const field = model.fields.find((candidate) => candidate.name === fieldName);
  return field?.dbName ?? fieldName;
};

const NATIVE_TYPES: Record<string, string> = {
  Uuid: "uuid",
  Text: "text",
  VarChar: "varchar",
  Char: "bpchar",
  Timestamptz: "timestamptz",
  Timestamp: "timestamp",
  Date: "date",
  Integer: "int4",
  SmallInt: "int2",
  BigInt: "int8",
  DoublePrecision: "float8",
  Real: "float4",
  Decimal: "numeric",
  Boolean: "bool",
  JsonB: "jsonb",
  Json: "json",
  ByteA: "bytea",
  Inet: "inet",
  Citext: "citext",
};
const PRISMA_TYPES: Record<string, string> = {
  String: "text",
  Int: "int4",
  BigInt: "int8",
  Float: "float8",
  Decimal: "numeric",
  Boolean: "bool",
  DateTime: "timestamp",
  Json: "jsonb",
  Bytes: "bytea",
};
/** Defaults Prisma's client computes itself; the database has none for them. */
const CLIENT_SIDE_DEFAULTS = new Set(["uuid", "cuid", "nanoid", "ulid"]);

function expectedColumn(field: Field) {
  const enumType = datamodel.enums.find((candidate) => candidate.name === field.type);
  const [nativeName, nativeArgs = []] = (field.nativeType as [string, string[]] | null) ?? [];
  const base = enumType
    ? (enumType.dbName ?? enumType.name)
    : nativeName
      ? NATIVE_TYPES[nativeName]
      : PRISMA_TYPES[field.type];
  if (!base)
    throw new Error(`the drift test does not know the column type of ${field.name}: ${field.type} ${nativeName ?? ""}`);
  const isTime = base === "timestamp" || base === "timestamptz";
  const defaultName =
    typeof field.default === "object" && field.default && "name" in field.default ? field.default.name : undefined;
  return {
    type: field.isList ? `_${base}` : base,
    precision: isTime ? Number(nativeArgs[0] ?? 3) : null,
    // Prisma creates list columns without NOT NULL.
    nullable: field.isList ? true : !field.isRequired,
    databaseDefault: field.hasDefaultValue && !CLIENT_SIDE_DEFAULTS.has(String(defaultName)),
  };
}

interface ColumnRow {
  table_name: string;
  column_name: string;
  udt_name: string;
  is_nullable: string;
  column_default: string | null;
  datetime_precision: number | null;
}

async function actualColumns() {
  const rows = await prisma.$queryRaw<ColumnRow[]>`
    SELECT table_name, column_name, udt_name, is_nullable, column_default, datetime_precision
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`;
  return Object.fromEntries(
    rows.map((row) => [
      `${row.table_name}.${row.column_name}`,
      {
        type: row.udt_name,
        precision: row.udt_name.startsWith("timestamp") ? row.datetime_precision : null,
        nullable: row.is_nullable === "YES",
        databaseDefault: row.column_default !== null,
      },
    ]),
  );
}

function expectedColumns() {
  const columns: Record<string, ReturnType<typeof expectedColumn>> = {};
  for (const model of datamodel.models) {
    for (const field of model.fields) {
      if (field.kind === "object") continue;
      columns[`${tableOf(model.name)}.${field.dbName ?? field.name}`] = expectedColumn(field);
    }
  }
  return columns;
}

function expectedIndexes() {
  return datamodel.indexes
    .map((index) => {
      const model = datamodel.models.find((candidate) => candidate.name === index.model) as Model;
      const table = tableOf(model.name);
      const columns = index.fields.map((field) => columnOf(model, field.name));
      const suffix =
        index.type === "id"
          ? "pkey"
          : index.type === "unique"
            ? `${columns.join("_")}_key`
            : `${columns.join("_")}_idx`;
      return {
        name: index.dbName ?? (index.type === "id" ? `${table}_pkey` : `${table}_${suffix}`),
        table,
        columns,
        unique: index.type !== "normal",
        primary: index.type === "id",
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function actualIndexes() {
  const rows = await prisma.$queryRaw<
    { name: string; table: string; columns: string[]; unique: boolean; primary: boolean }[]
  >`
    SELECT i.relname AS name, t.relname AS table, ix.indisunique AS unique, ix.indisprimary AS primary,
           array_agg(a.attname::text ORDER BY k.ord) AS columns
    FROM pg_index ix
    JOIN pg_class i ON i.oid = ix.indexrelid
    JOIN pg_class t ON t.oid = ix.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'
    GROUP BY i.relname, t.relname, ix.indisunique, ix.indisprimary`;
  return rows.map((row) => ({ ...row })).sort((a, b) => a.name.localeCompare(b.name));
}

/** Indexes with a WHERE clause, which Prisma's schema language has no way to declare (see the schema's comments). */
const PARTIAL_INDEXES: Record<string, string> = {
  Delivery_due_idx:
    'CREATE INDEX "Delivery_due_idx" ON public."Delivery" USING btree ("dueAt") WHERE (status = ANY (ARRAY[\'PENDING\'::"DeliveryStatus", \'SENDING\'::"DeliveryStatus"]))',
};

const DELETE_RULES: Record<string, string> = {
  a: "NoAction",
  r: "Restrict",
  c: "Cascade",
  n: "SetNull",
  d: "SetDefault",
};

function expectedForeignKeys() {
  const keys = [];
  for (const model of datamodel.models) {
    for (const field of model.fields) {
      if (field.kind !== "object" || !field.relationFromFields?.length) continue;
      const target = datamodel.models.find((candidate) => candidate.name === field.type) as Model;
      const columns = field.relationFromFields.map((name) => columnOf(model, name));
      const optional = field.relationFromFields.some((name) => !model.fields.find((f) => f.name === name)?.isRequired);
      keys.push({
        name: `${tableOf(model.name)}_${columns.join("_")}_fkey`,
        table: tableOf(model.name),
        columns,
        references: tableOf(target.name),
        referencedColumns: (field.relationToFields ?? []).map((name) => columnOf(target, name)),
        // Prisma's defaults when the schema says nothing: SetNull for optional relations, Restrict for required ones.
        onDelete: field.relationOnDelete ?? (optional ? "SetNull" : "Restrict"),
      });
    }
  }
  return keys.sort((a, b) => a.name.localeCompare(b.name));
}

async function actualForeignKeys() {
  const rows = await prisma.$queryRaw<
    { name: string; table: string; columns: string[]; references: string; referencedColumns: string[]; rule: string }[]
  >`
    SELECT c.conname AS name, t.relname AS table, r.relname AS references, c.confdeltype::text AS rule,
      (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY AS k(num, ord)
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num) AS columns,
      (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY AS k(num, ord)
         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num) AS "referencedColumns"
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_class r ON r.oid = c.confrelid
    WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace`;
  return rows
    .map(({ rule, ...row }) => ({ ...row, onDelete: DELETE_RULES[rule] ?? rule }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

describe("migrated database matches prisma/schema.prisma", () => {
  it("has exactly the schema's tables", async () => {
    const rows = await prisma.$queryRaw<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations'`;
    const actual = rows.map((row) => row.table_name).sort();
    expect(actual).toEqual(datamodel.models.map((model) => tableOf(model.name)).sort());
    expect(actual.length).toBeGreaterThan(0);
  });

  it("has every column with the schema's type, precision, nullability and default, and no others", async () => {
    expect(await actualColumns()).toEqual(expectedColumns());
  });

  it("has the schema's enums with the same values in the same order", async () => {
    const rows = await prisma.$queryRaw<{ name: string; values: string[] }[]>`
      SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS values
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'public' GROUP BY t.typname`;
    const expected = datamodel.enums.map((item) => ({
      name: item.dbName ?? item.name,
      values: item.values.map((v) => v.dbName ?? v.name),
    }));
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect(rows.sort(byName)).toEqual(expected.sort(byName));
  });

  it("has the schema's primary keys, unique and plain indexes, under Prisma's names", async () => {
    const partial = Object.keys(PARTIAL_INDEXES);
    expect((await actualIndexes()).filter((index) => !partial.includes(index.name))).toEqual(expectedIndexes());
  });

  it("has the partial indexes the schema cannot express, exactly as the migrations define them, and no others", async () => {
    const rows = await prisma.$queryRaw<{ name: string; definition: string }[]>`
      SELECT indexname AS name, indexdef AS definition FROM pg_indexes
      WHERE schemaname = 'public' AND indexdef LIKE '% WHERE %'`;
    expect(Object.fromEntries(rows.map((row) => [row.name, row.definition]))).toEqual(PARTIAL_INDEXES);
  });

  it("has the schema's foreign keys with their delete rules", async () => {
    expect(await actualForeignKeys()).toEqual(expectedForeignKeys());
  });
});
