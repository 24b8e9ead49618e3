#!/usr/bin/env bash
# bench-mysql.sh: end-to-end benchmark of `reconcile diff` with MySQL/MariaDB
# sides, against the floor of reading each side once with the mysql client:
# `mysql --quick -e "select * from pgbench_accounts order by aid" > /dev/null`.
#
#   scripts/bench-mysql.sh             # or: make bench-mysql
#
# It builds the pgbench_accounts data set of bench-postgres.sh (pgbench -i at
# SCALE in PostgreSQL, then copied into MariaDB database A), copies A to B,
# then in B updates 1,000 random rows, deletes 100 others and inserts 100
# new ones. It checks that reconcile finds exactly 1,000 changed, 100
# missing and 100 extra, then times MySQL↔MySQL (A vs B) and
# MySQL↔PostgreSQL (A vs the PostgreSQL original, which equals A).
#
# Environment (all optional):
#   MYSQL_ADMIN="-h 127.0.0.1 -P 3306 -u root"   mysql client arguments
#   MYSQL_URL=mysql://root@127.0.0.1:3306         reconcile's location prefix
#   PGADMIN=postgres://postgres@127.0.0.1:5432/postgres
#   SCALE=10              pgbench scale (1M rows)
#   RUNS=5 RSS_RUNS=3     hyperfine runs / peak-RSS runs
#   WORK=/tmp/reconcile-bench-mysql
#   KEEP=0                1 keeps the databases afterwards
#
# Exit code: 0 on success, 1 on a wrong result, 2 on a setup error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MYSQL_ADMIN=${MYSQL_ADMIN:--h 127.0.0.1 -P 3306 -u root}
MYSQL_URL=${MYSQL_URL:-mysql://root@127.0.0.1:3306}
PGADMIN=${PGADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
SCALE=${SCALE:-10}
RUNS=${RUNS:-5}
RSS_RUNS=${RSS_RUNS:-3}
WORK=${WORK:-/tmp/reconcile-bench-mysql}
KEEP=${KEEP:-0}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-mysql: %s\n' "$1" >&2; exit "${2:-2}"; }
missing=()
for c in go mysql psql pgbench hyperfine jq; do command -v $c >/dev/null || missing+=("$c"); done
[[ -x /usr/bin/time ]] || missing+=("GNU time at /usr/bin/time")
((${#missing[@]} == 0)) || die "missing: ${missing[*]} (Debian: apt-get install -y mariadb-client postgresql-client hyperfine jq time)"
# shellcheck disable=SC2086
my() { mysql $MYSQL_ADMIN "$@"; }
my -e 'select 1' >/dev/null || die "cannot connect with: mysql $MYSQL_ADMIN"
psql "$PGADMIN" -qAtc 'select 1' >/dev/null || die "cannot connect to $PGADMIN"
pgurl() { printf '%s/%s' "${PGADMIN%/*}" "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

mkdir -p "$WORK/results"
log "building reconcile into $WORK"
(cd "$ROOT" && go build -o "$WORK/reconcile" ./cmd/reconcile)
R=$WORK/reconcile
rows=$((SCALE * 100000))
A=reconcile_bench_my_a B=reconcile_bench_my_b P=reconcile_bench_my_pg

log "scale $SCALE ($rows rows): PostgreSQL $P, MariaDB $A and $B"
psql "$PGADMIN" -qc "drop database if exists $P with (force)" -c "create database $P"
pgbench -q -i -s "$SCALE" -I dtgvp "$(pgurl $P)" >/dev/null 2>&1 || die "pgbench -i failed"
my -e "drop database if exists $A; drop database if exists $B; create database $A; create database $B"
ddl='create table pgbench_accounts (aid int primary key, bid int, abalance int, filler char(84))'
my "$A" -e "$ddl"
my "$B" -e "$ddl"
psql "$(pgurl $P)" -qAtc '\copy pgbench_accounts to '"$WORK/accounts.tsv"
my --local-infile=1 "$A" -e "set unique_checks=0; load data local infile '$WORK/accounts.tsv' into table pgbench_accounts"
my "$B" -e "insert into pgbench_accounts select * from $A.pgbench_accounts"
my "$B" <<-SQL
	create temporary table pick as
	  select aid, row_number() over () as n from (select aid from pgbench_accounts order by rand(42) limit 1100) s;
	update pgbench_accounts a join pick p on p.aid = a.aid set a.abalance = a.abalance + 1 where p.n <= 1000;
	delete a from pgbench_accounts a join pick p on p.aid = a.aid where p.n > 1000;
	insert into pgbench_accounts select $rows + seq, 1, 0, '' from seq_1_to_100;
	analyze table pgbench_accounts;
SQL
my "$A" -e 'analyze table pgbench_accounts' >/dev/null

log "checking the results"
check() { # NAME WANT_EXIT WANT_SUMMARY ARGS...
	local name=$1 want_rc=$2 want=$3 rc got
	shift 3
	set +e
	"$R" diff "$@" --table pgbench_accounts --format json --limit 1 --progress never >"$WORK/results/check-$name.json"
	rc=$?
	set -e
	((rc == want_rc)) || die "$name: reconcile exited $rc, want $want_rc" 1
	got=$(jq -r '[.summary.changed, .summary.missing, .summary.extra] | @tsv' "$WORK/results/check-$name.json")
	[[ $got == "$want" ]] || die "$name: changed/missing/extra = $got, want $want" 1
}
check my-my 1 "$(printf '1000\t100\t100')" "$MYSQL_URL/$A" "$MYSQL_URL/$B"
check my-pg 0 "$(printf '0\t0\t0')" "$MYSQL_URL/$A" "$(pgurl $P)"

# Whether both tables fit in InnoDB's buffer pool decides what is timed:
# scans served from memory (reconcile is then CPU-bound, sharing two cores
# with two server scans) or from the page cache and disk.
pool=$(my -Nse 'select @@innodb_buffer_pool_size')
data=$(my -Nse "select sum(data_length + index_length) from information_schema.tables where table_schema in ('$A', '$B') and table_name = 'pgbench_accounts'")
awk -v p="$pool" -v d="$data" 'BEGIN {
	printf "innodb_buffer_pool_size %.0f MiB; the two tables %.0f MiB (%s)\n", p / 1048576, d / 1048576,
		(d < p * 0.9) ? "both fit" : "they do not both fit: scans also read the page cache or disk"
}' | tee "$WORK/results/pool.txt" >&2

log "timing (hyperfine, $RUNS runs)"
q="select * from pgbench_accounts order by aid"
hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/results/time.json" \
	-n "mysql A" "mysql $MYSQL_ADMIN --quick -e '$q' $A" \
	-n "mysql B" "mysql $MYSQL_ADMIN --quick -e '$q' $B" \
	-n "psql P" "psql $(pgurl $P) -qc '\\copy ($q) to /dev/null'" \
	-n "mysql A+B at once" "bash -c \"mysql $MYSQL_ADMIN --quick -e '$q' $A >/dev/null & mysql $MYSQL_ADMIN --quick -e '$q' $B >/dev/null; wait\"" \
	-n "mysql A+psql P at once" "bash -c \"mysql $MYSQL_ADMIN --quick -e '$q' $A >/dev/null & psql $(pgurl $P) -qc '\\\\copy ($q) to /dev/null'; wait\"" \
	-n "reconcile my-my" "bash -c '$R diff $MYSQL_URL/$A $MYSQL_URL/$B --table pgbench_accounts --limit 10 --progress never >/dev/null; test \$? -eq 1'" \
	-n "reconcile my-pg" "$R diff $MYSQL_URL/$A $(pgurl $P) --table pgbench_accounts --limit 10 --progress never" >&2
med() { jq ".results[$1].median" "$WORK/results/time.json"; }
ma=$(med 0) mb=$(med 1) mp=$(med 2) fmm=$(med 3) fmp=$(med 4) rmm=$(med 5) rmp=$(med 6)
rss() { # ARGS...: median peak RSS in KB
	local out=()
	for _ in $(seq "$RSS_RUNS"); do
		/usr/bin/time -f '%M' -o "$WORK/results/rss" "$R" diff "$@" --table pgbench_accounts --limit 10 --progress never >/dev/null || true
		out+=("$(tail -1 "$WORK/results/rss")")
	done
	median "${out[@]}"
}
kmm=$(rss "$MYSQL_URL/$A" "$MYSQL_URL/$B")
kmp=$(rss "$MYSQL_URL/$A" "$(pgurl $P)")
awk -v n="$rows" -v a="$ma" -v b="$mb" -v p="$mp" -v x="$rmm" -v y="$rmp" -v fx="$fmm" -v fy="$fmp" -v kx="$kmm" -v ky="$kmp" 'BEGIN {
	f1 = (a > b) ? a : b; f2 = (a > p) ? a : p
	printf "MySQL-MySQL (%d rows/side): reconcile %.2fs, mysql A %.2fs, mysql B %.2fs, ratio to slower side %.2f, peak RSS %.0f MB\n", n, x, a, b, x / f1, kx / 1024
	printf "  both exports at once %.2fs (%.2f x the slower side): reconcile is %.2f x that\n", fx, fx / f1, x / fx
	printf "MySQL-PostgreSQL (%d rows/side): reconcile %.2fs, mysql A %.2fs, psql %.2fs, ratio to slower side %.2f, peak RSS %.0f MB\n", n, y, a, p, y / f2, ky / 1024
	printf "  both exports at once %.2fs (%.2f x the slower side): reconcile is %.2f x that\n", fy, fy / f2, y / fy
}' | tee "$WORK/results/summary.txt"
tee -a "$WORK/results/summary.txt" <"$WORK/results/pool.txt"

if [[ $KEEP != 1 ]]; then
	my -e "drop database $A; drop database $B"
	psql "$PGADMIN" -qc "drop database $P with (force)"
fi
