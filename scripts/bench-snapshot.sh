#!/usr/bin/env bash
# bench-snapshot.sh: end-to-end benchmark of `reconcile snapshot` and of a
# diff between two snapshots.
#
#   scripts/bench-snapshot.sh          # or: make bench-snapshot
#
# It builds database A with `pgbench -i -s SCALE` and copies it to B with
# 1,000 random rows updated, 100 deleted and 100 inserted (as
# bench-postgres.sh does), then measures:
#
#   1. writing a snapshot of A's pgbench_accounts (`reconcile snapshot`)
#      against streaming the same table in key order out of the server,
#      which every snapshot must do first:
#        psql -c "copy (select * from pgbench_accounts order by aid) to stdout (format binary)" >/dev/null
#      and against `reconcile diff A A --algorithm stream`, which streams the
#      table into Arrow twice, once per side, and hashes every row;
#   2. `reconcile diff snap:A snap:B`: rows per second (source rows /
#      median wall time) and peak RSS (median of RSS_RUNS runs under
#      /usr/bin/time -v).
#
# Before timing it checks that the snapshot of A diffs clean against A, that
# snap:A vs snap:B finds exactly 1,000/100/100, and that `snapshot verify`
# passes.
#
# Environment (all optional):
#   PGADMIN=postgres://postgres@127.0.0.1:5432/postgres   admin connection
#   SCALE=50              pgbench scale (scale 1 = 100,000 rows)
#   RUNS=5                hyperfine timed runs per command (after 1 warmup)
#   RSS_RUNS=3            runs under /usr/bin/time -v for the peak RSS
#   WORK=/tmp/reconcile-bench-snapshot   binaries, the store and results
#   KEEP=0                1 keeps the databases and the store afterwards
#
# Exit code: 0 on success, 1 on a wrong result, 2 on a setup error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGADMIN=${PGADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
SCALE=${SCALE:-50}
RUNS=${RUNS:-5}
RSS_RUNS=${RSS_RUNS:-3}
WORK=${WORK:-/tmp/reconcile-bench-snapshot}
KEEP=${KEEP:-0}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-snapshot: %s\n' "$1" >&2; exit "${2:-2}"; }

missing=()
for c in go psql pgbench hyperfine jq /usr/bin/time; do command -v $c >/dev/null || missing+=("$c"); done
if ((${#missing[@]})); then
	die "missing: ${missing[*]} (Debian: apt-get install -y postgresql-client hyperfine jq time)"
fi
psql "$PGADMIN" -qAtc 'select 1' >/dev/null || die "cannot connect to $PGADMIN (set PGADMIN)"

url() { printf '%s/%s' "${PGADMIN%/*}" "$1"; }

mkdir -p "$WORK/results"
log "building reconcile into $WORK"
(cd "$ROOT" && go build -o "$WORK/reconcile" ./cmd/reconcile)
R=$WORK/reconcile
STORE=$WORK/store
rm -rf "$STORE"

A=reconcile_snap_a B=reconcile_snap_b
rows=$((SCALE * 100000))
cleanup() {
	if [[ $KEEP != 1 ]]; then
		psql "$PGADMIN" -qc "drop database if exists $A with (force)" -c "drop database if exists $B with (force)" >/dev/null 2>&1 || true
		rm -rf "$STORE"
	fi
}
trap cleanup EXIT

log "scale $SCALE ($rows rows): building $A and $B"
psql "$PGADMIN" -qc "drop database if exists $A with (force)" -c "drop database if exists $B with (force)" -c "create database $A"
pgbench -q -i -s "$SCALE" -I dtgvp "$(url $A)" >/dev/null 2>&1 || die "pgbench -i failed for $A"
psql "$PGADMIN" -qc "create database $B template $A"
psql "$(url $B)" -q -v ON_ERROR_STOP=1 <<-SQL
	select setseed(0.42) \gset
	create temp table pick as
	  select aid, row_number() over () as n
	  from (select aid from pgbench_accounts order by random() limit 1100) s;
	update pgbench_accounts a set abalance = a.abalance + 1 from pick p where p.aid = a.aid and p.n <= 1000;
	delete from pgbench_accounts a using pick p where p.aid = a.aid and p.n > 1000;
	insert into pgbench_accounts (aid, bid, abalance, filler)
	  select $rows + g, 1, 0, '' from generate_series(1, 100) g;
	vacuum analyze pgbench_accounts;
SQL
psql "$(url $A)" -qc 'vacuum analyze pgbench_accounts'

snap() { "$R" snapshot "$(url "$1")" --table pgbench_accounts --store "$STORE" --name "$2" >/dev/null; }
log "writing the snapshots"
snap $A a
snap $B b
"$R" snapshot verify "$STORE/a@latest" "$STORE/b@latest" >/dev/null || die "snapshot verify failed" 1

log "checking the results"
set +e
"$R" diff "snap:$STORE/a@latest" "$(url $A)" --table pgbench_accounts --progress never --format json --limit 1 >"$WORK/results/check-a.json"
rc=$?
set -e
((rc == 0)) || die "snap:a vs $A: reconcile exited $rc, want 0 (consistent)" 1
set +e
"$R" diff "snap:$STORE/a@latest" "snap:$STORE/b@latest" --progress never --format json --limit 1 >"$WORK/results/check-ab.json"
rc=$?
set -e
((rc == 1)) || die "snap:a vs snap:b: reconcile exited $rc, want 1" 1
got=$(jq -r '[.summary.changed, .summary.missing, .summary.extra, .plan.algorithm] | @tsv' "$WORK/results/check-ab.json")
[[ $got == "$(printf '1000\t100\t100\tmerge')" ]] || [[ $got == "$(printf '1000\t100\t100\tstream')" ]] ||
	die "snap:a vs snap:b: changed/missing/extra/plan = $got, want 1000/100/100 by an ordered merge" 1
du -sh "$STORE/a" | awk '{print "snapshot size on disk: " $1}' >&2

copy="psql $(url $A) -qAtc 'copy (select * from pgbench_accounts order by aid) to stdout (format binary)' >/dev/null"
write="$R snapshot $(url $A) --table pgbench_accounts --store $STORE --name timed >/dev/null"
stream="$R diff $(url $A) $(url $A) --table pgbench_accounts --algorithm stream --progress never >/dev/null"
snapdiff="$R diff snap:$STORE/a@latest snap:$STORE/b@latest --progress never --limit 10 >/dev/null; test \$? -eq 1"

log "timing the snapshot write (hyperfine, $RUNS runs)"
hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/results/time-write.json" \
	-n "copy to stdout (binary, key order)" "bash -c \"$copy\"" \
	-n "reconcile snapshot" "bash -c '$write'" \
	-n "reconcile diff A A (stream)" "bash -c '$stream'" >&2
"$R" snapshot prune "$STORE/timed" --keep 1 --grace 0s >/dev/null

log "timing snap:a vs snap:b"
hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/results/time-diff.json" \
	-n "reconcile diff snap snap" "bash -c '$snapdiff'" >&2

rss() { # command... → median peak RSS in MiB
	local i out=()
	for ((i = 0; i < RSS_RUNS; i++)); do
		out+=("$({ /usr/bin/time -v bash -c "$1" >/dev/null; } 2>&1 | awk '/Maximum resident set size/ {print $6}')")
	done
	printf '%s\n' "${out[@]}" | sort -n | awk '{a[NR] = $1} END {printf "%.1f", a[int((NR + 1) / 2)] / 1024}'
}
log "peak RSS ($RSS_RUNS runs each)"
rss_write=$(rss "$write")
rss_diff=$(rss "$snapdiff")
"$R" snapshot prune "$STORE/timed" --keep 1 --grace 0s >/dev/null

m() { jq ".results[$2].median" "$WORK/results/time-$1.json"; }
{
	printf '\nscale %s (%d rows), medians of %d runs; peak RSS medians of %d runs\n' "$SCALE" "$rows" "$RUNS" "$RSS_RUNS"
	awk -v c="$(m write 0)" -v w="$(m write 1)" -v s="$(m write 2)" -v r="$rss_write" 'BEGIN {
		printf "snapshot write: %.2fs (%.2f x copy to stdout %.2fs; %.2f x diff A A stream %.2fs); peak RSS %.0f MiB\n", w, w / c, c, w / s, s, r }'
	awk -v d="$(m diff 0)" -v n="$rows" -v r="$rss_diff" 'BEGIN {
		printf "diff snap:a snap:b: %.2fs, %.2fM source rows/s; peak RSS %.0f MiB\n", d, n / d / 1e6, r }'
} | tee "$WORK/results/summary.txt"
