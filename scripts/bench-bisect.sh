#!/usr/bin/env bash
# bench-bisect.sh: end-to-end benchmark of `reconcile diff --algorithm bisect`
# (segment checksums computed in PostgreSQL) and `auto` against
# `--algorithm stream` and against the floor of one full-table aggregate per side, run on both
# sides at once:
#   select count(*), sum(hashtext(t::text)::bigint) from pgbench_accounts t
#
#   scripts/bench-bisect.sh            # or: make bench-bisect
#
# It builds database A with `pgbench -i -s SCALE`, copies it to B and in B
# updates 1,000 random rows, deletes 100 and inserts 100 (as
# bench-postgres.sh does), and copies A to C with 10 % of the rows updated.
# It checks that bisect, stream and auto find exactly 1,000/100/100 in A↔B
# and the 10 % in A↔C before timing anything.
#
# Environment (all optional):
#   PGADMIN=postgres://postgres@127.0.0.1:5432/postgres   admin connection
#   SCALE=50              pgbench scale (scale 1 = 100,000 rows)
#   RUNS=5                hyperfine timed runs per command (after 1 warmup)
#   WORK=/tmp/reconcile-bench-bisect   binaries and results
#   KEEP=0                1 keeps the databases afterwards
#   RECONCILE_ARGS=""     extra arguments for every `reconcile diff`
#
# Exit code: 0 on success, 1 on a wrong result, 2 on a setup error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGADMIN=${PGADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
SCALE=${SCALE:-50}
RUNS=${RUNS:-5}
WORK=${WORK:-/tmp/reconcile-bench-bisect}
KEEP=${KEEP:-0}
RECONCILE_ARGS=${RECONCILE_ARGS:-}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-bisect: %s\n' "$1" >&2; exit "${2:-2}"; }

missing=()
for c in go psql pgbench hyperfine jq; do command -v $c >/dev/null || missing+=("$c"); done
if ((${#missing[@]})); then
	die "missing: ${missing[*]} (Debian: apt-get install -y postgresql-client hyperfine jq)"
fi
psql "$PGADMIN" -qAtc 'select 1' >/dev/null || die "cannot connect to $PGADMIN (set PGADMIN)"

url() { printf '%s/%s' "${PGADMIN%/*}" "$1"; }

mkdir -p "$WORK/results"
log "building reconcile into $WORK"
(cd "$ROOT" && go build -o "$WORK/reconcile" ./cmd/reconcile)
R=$WORK/reconcile

A=reconcile_bisect_a B=reconcile_bisect_b C=reconcile_bisect_c
rows=$((SCALE * 100000))
log "scale $SCALE ($rows rows): building $A, $B and $C"
psql "$PGADMIN" -qc "drop database if exists $A with (force)" -c "drop database if exists $B with (force)" \
	-c "drop database if exists $C with (force)" -c "create database $A"
pgbench -q -i -s "$SCALE" -I dtgvp "$(url $A)" >/dev/null 2>&1 || die "pgbench -i failed for $A"
psql "$PGADMIN" -qc "create database $B template $A" -c "create database $C template $A"
psql "$(url $B)" -q -v ON_ERROR_STOP=1 <<-SQL
	select setseed(0.42);
	create temp table pick as
	  select aid, row_number() over () as n
	  from (select aid from pgbench_accounts order by random() limit 1100) s;
	update pgbench_accounts a set abalance = a.abalance + 1 from pick p where p.aid = a.aid and p.n <= 1000;
	delete from pgbench_accounts a using pick p where p.aid = a.aid and p.n > 1000;
	insert into pgbench_accounts (aid, bid, abalance, filler)
	  select $rows + g, 1, 0, '' from generate_series(1, 100) g;
	vacuum analyze pgbench_accounts;
SQL
psql "$(url $C)" -q -v ON_ERROR_STOP=1 -c "update pgbench_accounts set abalance = abalance + 1 where aid % 10 = 3" \
	-c "vacuum analyze pgbench_accounts"
psql "$(url $A)" -qc 'vacuum analyze pgbench_accounts'

diffargs="--table pgbench_accounts --progress never $RECONCILE_ARGS"
check() { # name db algorithm want
	local out=$WORK/results/check-$1-$3.json rc
	set +e
	"$R" diff "$(url $A)" "$(url "$2")" $diffargs --algorithm "$3" --format json --limit 1 >"$out"
	rc=$?
	set -e
	((rc == 1)) || die "$1 $3: reconcile exited $rc, want 1" 1
	local got
	got=$(jq -r '[.summary.changed, .summary.missing, .summary.extra] | @tsv' "$out")
	[[ $got == "$4" ]] || die "$1 $3: changed/missing/extra = $got, want $4" 1
}
log "checking the results"
for algo in bisect stream auto; do
	check 1200 $B $algo "$(printf '1000\t100\t100')"
	check 10pct $C $algo "$(printf '%s\t0\t0' $((rows / 10)))"
done

agg="select count(*), sum(hashtext(t::text)::bigint) from pgbench_accounts t"
floor="psql $(url $A) -qAtc '$agg' >/dev/null & psql $(url $B) -qAtc '$agg' >/dev/null & wait"
run() { printf "%s diff %s %s %s --algorithm %s --limit 10 >/dev/null; test \$? -eq 1" "$R" "$(url $A)" "$(url "$1")" "$diffargs" "$2"; }

log "timing A↔B, 1,200 differences (hyperfine, $RUNS runs)"
hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/results/time-1200.json" \
	-n "aggregate, both sides" "bash -c \"$floor\"" \
	-n "bisect" "bash -c '$(run $B bisect)'" \
	-n "stream" "bash -c '$(run $B stream)'" \
	-n "auto" "bash -c '$(run $B auto)'" >&2
log "timing A↔C, 10 % of rows changed"
hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/results/time-10pct.json" \
	-n "bisect" "bash -c '$(run $C bisect)'" \
	-n "stream" "bash -c '$(run $C stream)'" \
	-n "auto" "bash -c '$(run $C auto)'" >&2

m() { jq ".results[$2].median" "$WORK/results/time-$1.json"; }
fetched() { jq '.plan.bisect.rows_fetched' "$WORK/results/check-$1-bisect.json"; }
{
	printf '\nscale %s (%d rows per side), medians of %d runs\n' "$SCALE" "$rows" "$RUNS"
	awk -v f="$(m 1200 0)" -v b="$(m 1200 1)" -v s="$(m 1200 2)" -v a="$(m 1200 3)" -v r="$(fetched 1200)" 'BEGIN {
		printf "1,200 differences: aggregate %.2fs; bisect %.2fs (%.2f x aggregate, %.2f x stream, %d rows read); stream %.2fs; auto %.2fs (%.2f x the better plan)\n",
			f, b, b / f, b / s, r, s, a, a / (b < s ? b : s) }'
	awk -v b="$(m 10pct 0)" -v s="$(m 10pct 1)" -v a="$(m 10pct 2)" -v r="$(fetched 10pct)" 'BEGIN {
		printf "10 %% changed: bisect %.2fs (%.2f x stream, %d rows read); stream %.2fs; auto %.2fs (%.2f x the better plan)\n",
			b, b / s, r, s, a, a / (b < s ? b : s) }'
} | tee "$WORK/results/summary.txt"

if [[ $KEEP != 1 ]]; then
	psql "$PGADMIN" -qc "drop database $A with (force)" -c "drop database $B with (force)" -c "drop database $C with (force)"
fi
