#!/usr/bin/env bash
# bench-apply.sh: benchmarks of fix-up batches.
#
#   scripts/bench-apply.sh
#
# Runs the Go benchmarks of package batches COUNT times each and prints the
# median of each:
#
#   BenchmarkCreate100k         writing a batch of 100,000 updates
#                               (ops.jsonl, batch.sql, manifest.json)
#   BenchmarkReadOps100k        reading that ops.jsonl back (apply does it)
#   BenchmarkApplyPostgres100k  applying it to PostgreSQL, 1,000 operations
#                               per transaction, with the journal and the
#                               undo batch: guarded operations per second
#   BenchmarkApplyMySQL100k     the same against MariaDB/MySQL
#
# Environment (all optional):
#   RECONCILE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
#   RECONCILE_TEST_MYSQL='root@tcp(127.0.0.1:3306)/'
#   COUNT=5               runs of each benchmark
#
# Exit code: 0 on success, 2 when a benchmark fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNT=${COUNT:-5}
export RECONCILE_TEST_POSTGRES=${RECONCILE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
export RECONCILE_TEST_MYSQL=${RECONCILE_TEST_MYSQL:-root@tcp(127.0.0.1:3306)/}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
cd "$ROOT"
if ! go test ./batches/ -run '^$' -bench 'Create100k|ReadOps100k|ApplyPostgres100k|ApplyMySQL100k' \
	-benchtime 2x -count "$COUNT" >"$out" 2>&1; then
	cat "$out" >&2
	exit 2
fi
grep '^Benchmark' "$out"
echo
echo "medians of $COUNT runs:"
awk '/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	ns[name] = ns[name] " " $3
	for (i = 4; i <= NF; i++) if ($(i) == "ops/s") ops[name] = ops[name] " " $(i-1)
}
function median(list,   a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	for (name in ns) {
		line = sprintf("  %-28s %8.3f s", name, median(ns[name]) / 1e9)
		if (name in ops) line = line sprintf("   %8.0f ops/s", median(ops[name]))
		print line
	}
}' "$out" | sort
