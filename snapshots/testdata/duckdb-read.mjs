#!/usr/bin/env node
// duckdb-read.mjs: reads a snapshot's Parquet parts with DuckDB, as a user
// would, and prints what it saw as one JSON line: the row count, the sum
// of the id column, and each column's DuckDB type.
//
// Usage: node duckdb-read.mjs 'DIR/part-*.parquet'
// Needs @duckdb/node-api (npm ci --prefix scripts).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'scripts', 'package.json'));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const glob = process.argv[2];
try {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const q = (sql) => con.runAndReadAll(sql).then((r) => r.getRowObjectsJS());
  const src = `read_parquet('${glob.replaceAll("'", "''")}')`;
  const [agg] = await q(`select count(*)::bigint as rows, sum(id)::bigint as id_sum from ${src}`);
  const cols = await q(`select column_name, column_type from (describe select * from ${src})`);
  const sample = await q(`select * from ${src} order by id limit 1`);
  console.log(JSON.stringify({
    rows: Number(agg.rows),
    id_sum: Number(agg.id_sum),
    types: Object.fromEntries(cols.map((c) => [c.column_name, c.column_type])),
    first: sample[0],
  }, (k, v) => (typeof v === 'bigint' ? Number(v) : v)));
} catch (e) {
  console.error(`duckdb-read: ${e.message}`);
  process.exit(2);
}
