#!/usr/bin/env bash
# bench-postgres.sh: end-to-end benchmark of `reconcile diff` between two
# PostgreSQL databases, against the floor of reading each side once with
# `psql \copy (select * from pgbench_accounts order by aid) to /dev/null`.
#
#   scripts/bench-postgres.sh          # or: make bench-postgres
#
# For each scale it builds database A with `pgbench -i -s SCALE`, copies it to
# database B (CREATE DATABASE ... TEMPLATE), then in B updates 1,000 random
# rows, deletes 100 others and inserts 100 new ones, and checks that
# reconcile finds exactly 1,000 changed, 100 missing and 100 extra before
# timing anything.
#
# Environment (all optional):
#   PGADMIN=postgres://postgres@127.0.0.1:5432/postgres   admin connection
#   SCALES="10 50"        pgbench scales (scale 1 = 100,000 rows)
#   RUNS=5                hyperfine timed runs per command (after 1 warmup)
#   RSS_RUNS=3            /usr/bin/time -v runs for reconcile's peak RSS
#   PAIRS=7               alternating rounds (copy A, copy B, reconcile) for
#                         the same-round ratio; 0 skips them
#   WORK=/tmp/reconcile-bench-pg   binaries and results
#   KEEP=0                1 keeps the databases afterwards
#   RECONCILE_ARGS=""     extra arguments for the timed `reconcile diff`
#   PGSSLMODE=disable     (libpq's own variable, honoured by psql and reconcile
#                         alike) compares without TLS on the loopback; the
#                         default, prefer, encrypts both tools' connections
#
# Exit code: 0 on success, 1 on a wrong result, 2 on a setup error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGADMIN=${PGADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
SCALES=${SCALES:-10 50}
RUNS=${RUNS:-5}
RSS_RUNS=${RSS_RUNS:-3}
PAIRS=${PAIRS:-7}
WORK=${WORK:-/tmp/reconcile-bench-pg}
KEEP=${KEEP:-0}
RECONCILE_ARGS=${RECONCILE_ARGS:-}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-postgres: %s\n' "$1" >&2; exit "${2:-2}"; }

missing=()
for c in go psql pgbench hyperfine jq; do command -v $c >/dev/null || missing+=("$c"); done
[[ -x /usr/bin/time ]] || missing+=("GNU time at /usr/bin/time")
if ((${#missing[@]})); then
	die "missing: ${missing[*]} (Debian: apt-get install -y postgresql-client hyperfine jq time)"
fi
psql "$PGADMIN" -qAtc 'select 1' >/dev/null || die "cannot connect to $PGADMIN (set PGADMIN)"

# url DB: the admin URL with its database replaced.
url() { printf '%s/%s' "${PGADMIN%/*}" "$1"; }
# elapsed CMD...: CMD's wall time in seconds (it must succeed).
elapsed() {
	local s e
	s=$(date +%s.%N)
	"$@" >/dev/null || exit 1
	e=$(date +%s.%N)
	awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f", e - s }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

mkdir -p "$WORK/results"
log "building reconcile into $WORK"
(cd "$ROOT" && go build -o "$WORK/reconcile" ./cmd/reconcile)
RECONCILE=$WORK/reconcile

summary=()
for scale in $SCALES; do
	A=reconcile_bench_a_s$scale B=reconcile_bench_b_s$scale
	rows=$((scale * 100000))
	log "scale $scale ($rows rows): building $A and $B"
	psql "$PGADMIN" -qc "drop database if exists $A with (force)" -c "drop database if exists $B with (force)" -c "create database $A"
	pgbench -q -i -s "$scale" -I dtgvp "$(url $A)" >/dev/null 2>&1 || die "pgbench -i failed for $A"
	psql "$PGADMIN" -qc "create database $B template $A"
	# 1,100 distinct random rows: the first 1,000 are updated, the other
	# 100 deleted; 100 new rows are inserted after the last aid.
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
	psql "$(url $A)" -qc 'vacuum analyze pgbench_accounts'

	log "checking the result"
	set +e
	"$RECONCILE" diff "$(url $A)" "$(url $B)" --table pgbench_accounts --format json --limit 1 --progress never $RECONCILE_ARGS >"$WORK/results/check-s$scale.json"
	rc=$?
	set -e
	((rc == 1)) || die "reconcile exited $rc, want 1 (differences)" 1
	got=$(jq -r '[.summary.changed, .summary.missing, .summary.extra, .source.rows, .target.rows] | @tsv' "$WORK/results/check-s$scale.json")
	want=$(printf '%s\t%s\t%s\t%s\t%s' 1000 100 100 "$rows" "$rows")
	[[ $got == "$want" ]] || die "scale $scale: changed/missing/extra/rows = $got, want $want" 1

	log "timing (hyperfine, $RUNS runs)"
	copyA="psql $(url $A) -qc '\\copy (select * from pgbench_accounts order by aid) to /dev/null'"
	copyB="psql $(url $B) -qc '\\copy (select * from pgbench_accounts order by aid) to /dev/null'"
	diffcmd="$RECONCILE diff $(url $A) $(url $B) --table pgbench_accounts --limit 10 --progress never $RECONCILE_ARGS >/dev/null; test \$? -eq 1"
	hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/results/time-s$scale.json" \
		-n "copy A" "bash -c \"$copyA\"" -n "copy B" "bash -c \"$copyB\"" \
		-n "copy A+B at once" "bash -c \"$copyA & $copyB; wait\"" -n "reconcile" "bash -c '$diffcmd'" >&2
	ma=$(jq '.results[0].median' "$WORK/results/time-s$scale.json")
	mb=$(jq '.results[1].median' "$WORK/results/time-s$scale.json")
	mboth=$(jq '.results[2].median' "$WORK/results/time-s$scale.json")
	mr=$(jq '.results[3].median' "$WORK/results/time-s$scale.json")

	# Alternating rounds: this machine's speed drifts over minutes, so the
	# ratio of a diff to the copies timed just before it is steadier than
	# the ratio of medians taken minutes apart.
	ratios=()
	for _ in $(seq "$PAIRS"); do
		ta=$(elapsed bash -c "$copyA")
		tb=$(elapsed bash -c "$copyB")
		tr=$(elapsed bash -c "$diffcmd")
		ratios+=("$(awk -v a="$ta" -v b="$tb" -v r="$tr" 'BEGIN { printf "%.3f", r / ((a > b) ? a : b) }')")
	done
	mpair=-
	if ((PAIRS > 0)); then
		mpair=$(median "${ratios[@]}")
		log "same-round ratios: ${ratios[*]}"
	fi

	rss=()
	for _ in $(seq "$RSS_RUNS"); do
		set +e
		/usr/bin/time -f '%M' -o "$WORK/results/rss" "$RECONCILE" diff "$(url $A)" "$(url $B)" --table pgbench_accounts --limit 10 --progress never $RECONCILE_ARGS >/dev/null
		set -e
		rss+=("$(tail -1 "$WORK/results/rss")")
	done
	mrss=$(median "${rss[@]}")
	line=$(awk -v s="$scale" -v n="$rows" -v a="$ma" -v b="$mb" -v r="$mr" -v k="$mrss" -v p="$mpair" -v np="$PAIRS" -v both="$mboth" 'BEGIN {
		floor = (a > b) ? a : b
		printf "scale %s (%d rows/side): reconcile %.2fs, copy A %.2fs, copy B %.2fs, ratio to slower copy %.2f (median same-round ratio %s over %d rounds), %.1fM rows/s (both sides), peak RSS %.0f MB; both copies at once %.2fs (%.2f x the slower copy), reconcile %.2f x that",
			s, n, r, a, b, r / floor, p, np, 2 * n / r / 1e6, k / 1024, both, both / floor, r / both }')
	summary+=("$line")
	if [[ $KEEP != 1 ]]; then
		psql "$PGADMIN" -qc "drop database $A with (force)" -c "drop database $B with (force)"
	fi
done

printf '\n'
printf '%s\n' "${summary[@]}" | tee "$WORK/results/summary.txt"
