#!/usr/bin/env node
// duckdb-diff.mjs: the baseline that `reconcile diff` is benchmarked against.
//
// Usage: node duckdb-diff.mjs SOURCE TARGET [--key id]
//        node duckdb-diff.mjs --version
//
// It does what a user would do by hand with DuckDB: a FULL OUTER JOIN of the
// two files on the key, keeping the rows whose key is on one side only or
// whose 7 other columns differ (IS DISTINCT FROM, so NULLs compare sanely).
// The differing rows, with every column of both sides, are materialised into
// a temporary table (so the comparison is really done, not just planned), and
// their counts are printed to stdout as one JSON line:
//
//   {"missing":667,"extra":667,"changed":667,"differences":2001,"seconds":5.1}
//
// missing = key in SOURCE only, extra = key in TARGET only, changed = key in
// both with a differing column: the same meaning as reconcile's summary.
//
// Files are read with read_parquet for *.parquet / *.pq and read_csv_auto
// otherwise. DuckDB runs with its default settings (threads = cores, default
// memory limit). Exit code: 0 on success (differences or not), 2 on error.
// Set DUCKDB_DIFF_VERBOSE=1 to print the column types DuckDB inferred.

import { DuckDBInstance } from '@duckdb/node-api';

const COLUMNS = ['name', 'email', 'amount', 'qty', 'created_at', 'signup_date', 'active'];

function usage(msg) {
  if (msg) console.error(`duckdb-diff: ${msg}`);
  console.error('usage: node duckdb-diff.mjs SOURCE TARGET [--key id]');
  process.exit(2);
}

function parseArgs(argv) {
  const files = [];
  let key = 'id';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--key' || a === '-k') {
      key = argv[++i];
      if (!key) usage('--key needs a column name');
    } else if (a.startsWith('--key=')) {
      key = a.slice('--key='.length);
    } else if (a === '--version') {
      return { version: true };
    } else if (a === '-h' || a === '--help') {
      usage();
    } else if (a.startsWith('-')) {
      usage(`unknown option ${a}`);
    } else {
      files.push(a);
    }
  }
  if (files.length !== 2) usage('need SOURCE and TARGET');
  return { source: files[0], target: files[1], key };
}

const quoteString = (s) => `'${s.replaceAll("'", "''")}'`;
const quoteIdent = (s) => `"${s.replaceAll('"', '""')}"`;

function reader(path) {
  return /\.(parquet|pq)$/i.test(path)
    ? `read_parquet(${quoteString(path)})`
    : `read_csv_auto(${quoteString(path)})`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.version) {
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const r = await conn.runAndReadAll('SELECT version() AS v');
    console.log(`duckdb ${r.getRowObjects()[0].v}`);
    conn.closeSync();
    instance.closeSync();
    return;
  }
  const { source, target, key } = args;
  const k = quoteIdent(key);
  const cols = COLUMNS.filter((c) => c !== key).map(quoteIdent);

  const start = process.hrtime.bigint();
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    if (process.env.DUCKDB_DIFF_VERBOSE) {
      for (const [side, path] of [['source', source], ['target', target]]) {
        const r = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${reader(path)}`);
        const types = r.getRowObjects().map((o) => `${o.column_name} ${o.column_type}`);
        console.error(`duckdb-diff: ${side} ${path}: ${types.join(', ')}`);
      }
    }

    const select = [
      `CASE WHEN t.${k} IS NULL THEN 'missing' WHEN s.${k} IS NULL THEN 'extra' ELSE 'changed' END AS kind`,
      `s.${k} AS ${quoteIdent('source_' + key)}`,
      `t.${k} AS ${quoteIdent('target_' + key)}`,
      ...cols.flatMap((c) => {
        const name = c.slice(1, -1);
        return [`s.${c} AS ${quoteIdent('source_' + name)}`, `t.${c} AS ${quoteIdent('target_' + name)}`];
      }),
    ].join(',\n       ');
    const differs = cols.map((c) => `s.${c} IS DISTINCT FROM t.${c}`).join('\n    OR ');
    const sql = `CREATE TEMP TABLE diff AS
SELECT ${select}
FROM ${reader(source)} AS s
FULL OUTER JOIN ${reader(target)} AS t ON s.${k} = t.${k}
WHERE s.${k} IS NULL OR t.${k} IS NULL
    OR ${differs}`;
    await conn.run(sql);

    const res = await conn.runAndReadAll(`SELECT
  count(*) FILTER (WHERE kind = 'missing') AS missing,
  count(*) FILTER (WHERE kind = 'extra') AS extra,
  count(*) FILTER (WHERE kind = 'changed') AS changed,
  count(*) AS differences
FROM diff`);
    const row = res.getRowObjects()[0];
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const out = {
      missing: Number(row.missing),
      extra: Number(row.extra),
      changed: Number(row.changed),
      differences: Number(row.differences),
      seconds: Math.round(seconds * 1000) / 1000,
    };
    console.log(JSON.stringify(out));
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

main().catch((err) => {
  console.error(`duckdb-diff: ${err && err.message ? err.message : err}`);
  process.exit(2);
});
