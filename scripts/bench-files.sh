#!/usr/bin/env bash
# bench-files.sh: end-to-end benchmark of `reconcile diff` against the usual
# alternative, a DuckDB FULL OUTER JOIN (scripts/duckdb-diff.mjs), on a
# generated source/target pair (scripts/benchdata) in CSV and in Parquet.
#
#   scripts/bench-files.sh            # or: make bench-files
#
# Environment (all optional):
#   ROWS=2000000          rows in the source file
#   RUNS=5                hyperfine timed runs per command (after 1 warmup)
#   RSS_RUNS=3            /usr/bin/time -v runs per command for peak RSS
#   WORK=/tmp/reconcile-bench   work dir: binaries, data (reused), results
#   SHUFFLE=1             write the target in random order (default: id order)
#   SEED=42 DRIFT=0.001   generator seed and drift fraction
#   FORMATS="csv parquet" which formats to run
#   TOOLS="reconcile duckdb"    which tools to run (e.g. TOOLS=duckdb while
#                         cmd/reconcile does not build)
#   RECONCILE_ARGS=""     extra arguments for the timed `reconcile diff`
#   RECONCILE_BIN=PATH    use this reconcile binary instead of building
#                         ./cmd/reconcile into $WORK/reconcile
#
# Before timing anything it checks that reconcile's JSON summary and DuckDB's
# counts both equal the generator's expected counts, and stops if not.
# Exit code: 0 on success, 1 on a wrong result, 2 on a setup error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS="$ROOT/scripts"
ROWS=${ROWS:-2000000}
RUNS=${RUNS:-5}
RSS_RUNS=${RSS_RUNS:-3}
WORK=${WORK:-/tmp/reconcile-bench}
SHUFFLE=${SHUFFLE:-0}
SEED=${SEED:-42}
DRIFT=${DRIFT:-0.001}
FORMATS=${FORMATS:-csv parquet}
TOOLS=${TOOLS:-reconcile duckdb}
RECONCILE_ARGS=${RECONCILE_ARGS:-}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench-files: %s\n' "$1" >&2; exit "${2:-2}"; }
has_tool() { [[ " $TOOLS " == *" $1 "* ]]; }

# ---- requirements ---------------------------------------------------------
missing=()
command -v go >/dev/null || missing+=("go (Go toolchain, see go.mod)")
command -v node >/dev/null || missing+=("node >= 20 (apt-get install -y nodejs npm)")
command -v npm >/dev/null || missing+=("npm (apt-get install -y npm)")
command -v hyperfine >/dev/null || missing+=("hyperfine (apt-get install -y hyperfine)")
[[ -x /usr/bin/time ]] || missing+=("GNU time at /usr/bin/time (apt-get install -y time)")
if ((${#missing[@]})); then
	printf 'bench-files: missing requirements:\n' >&2
	printf '  - %s\n' "${missing[@]}" >&2
	exit 2
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "node >= 20 needed, found $(node --version)"
for t in $TOOLS; do [[ $t == reconcile || $t == duckdb ]] || die "unknown tool in TOOLS: $t"; done
for f in $FORMATS; do [[ $f == csv || $f == parquet ]] || die "unknown format in FORMATS: $f"; done

mkdir -p "$WORK/results" "$WORK/out"
# json FILE EXPR: evaluate a JS expression over the parsed JSON file `j`.
json() { node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = eval(process.argv[2]); console.log(v === undefined ? "" : v)' "$1" "$2"; }
# median N...: the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# ---- build ----------------------------------------------------------------
log "building into $WORK"
(cd "$ROOT" && go build -o "$WORK/benchdata" ./scripts/benchdata)
RECONCILE=${RECONCILE_BIN:-$WORK/reconcile}
if has_tool reconcile && [[ -n ${RECONCILE_BIN:-} ]]; then
	[[ -x $RECONCILE_BIN ]] || die "RECONCILE_BIN=$RECONCILE_BIN is not an executable"
	log "using reconcile binary $RECONCILE_BIN (not building cmd/reconcile)"
elif has_tool reconcile; then
	(cd "$ROOT" && go build -o "$RECONCILE" ./cmd/reconcile) ||
		die "cmd/reconcile does not build (run with TOOLS=duckdb to benchmark DuckDB alone)"
fi

# ---- data -----------------------------------------------------------------
suffix=""
gen_flags=()
if [[ $SHUFFLE == 1 ]]; then
	suffix="-shuffled"
	gen_flags+=(-shuffle-target)
fi
DATA="$WORK/data/rows${ROWS}-seed${SEED}-drift${DRIFT}${suffix}"
if [[ -f $DATA/expected.json && -f $DATA/source.csv && -f $DATA/target.csv && -f $DATA/source.parquet && -f $DATA/target.parquet ]]; then
	log "reusing data in $DATA"
else
	log "generating $ROWS rows into $DATA"
	rm -rf "$DATA.tmp"
	"$WORK/benchdata" -rows "$ROWS" -seed "$SEED" -drift "$DRIFT" -format both -out "$DATA.tmp" "${gen_flags[@]}"
	rm -rf "$DATA"
	mv "$DATA.tmp" "$DATA"
fi
EXP_MISSING=$(json "$DATA/expected.json" j.missing)
EXP_EXTRA=$(json "$DATA/expected.json" j.extra)
EXP_CHANGED=$(json "$DATA/expected.json" j.changed)
log "expected: missing=$EXP_MISSING extra=$EXP_EXTRA changed=$EXP_CHANGED"

# ---- npm deps -------------------------------------------------------------
if has_tool duckdb && [[ ! -d $SCRIPTS/node_modules/@duckdb/node-api ]]; then
	log "installing npm dependencies in scripts/"
	(cd "$SCRIPTS" && npm ci --no-audit --no-fund)
fi

# ---- commands -------------------------------------------------------------
# cmd_argv TOOL FORMAT: prints the command, one argument per line.
src_of() { echo "$DATA/source.$1"; }
tgt_of() { echo "$DATA/target.$1"; }
reconcile_argv() {
	# shellcheck disable=SC2086 # RECONCILE_ARGS is split on purpose
	printf '%s\n' "$RECONCILE" diff "$(src_of "$1")" "$(tgt_of "$1")" --key id $RECONCILE_ARGS
}
duckdb_argv() { printf '%s\n' node "$SCRIPTS/duckdb-diff.mjs" "$(src_of "$1")" "$(tgt_of "$1")" --key id; }
argv_of() { mapfile -t ARGV < <("${1}_argv" "$2"); }
# A shell command line for hyperfine. reconcile exits 1 when it finds
# differences, which is the expected outcome here: accept 0 and 1, fail on
# anything else (2 = error), instead of hyperfine -i ignoring every failure.
shell_cmd() {
	local q
	argv_of "$1" "$2"
	q=$(printf '%q ' "${ARGV[@]}")
	echo "${q% }; test \$? -le 1"
}

# ---- correctness check ----------------------------------------------------
check() { # check TOOL FORMAT MISSING EXTRA CHANGED
	if [[ "$3 $4 $5" != "$EXP_MISSING $EXP_EXTRA $EXP_CHANGED" ]]; then
		printf 'bench-files: %s on %s found missing=%s extra=%s changed=%s, expected missing=%s extra=%s changed=%s\n' \
			"$1" "$2" "$3" "$4" "$5" "$EXP_MISSING" "$EXP_EXTRA" "$EXP_CHANGED" >&2
		exit 1
	fi
	log "$1 $2: missing=$3 extra=$4 changed=$5 (as expected)"
}
for fmt in $FORMATS; do
	if has_tool reconcile; then
		out="$WORK/out/reconcile-$fmt.json"
		rm -f "$out"
		rc=0
		"$RECONCILE" diff "$(src_of "$fmt")" "$(tgt_of "$fmt")" --key id --format json --output "$out" >"$WORK/out/reconcile-$fmt.stdout" 2>"$WORK/out/reconcile-$fmt.stderr" || rc=$?
		if ((rc > 1)) || [[ ! -s $out ]]; then
			cat "$WORK/out/reconcile-$fmt.stderr" >&2
			die "reconcile diff on $fmt exited $rc (report: $out)" 1
		fi
		s='(j.summary ?? j)'
		check reconcile "$fmt" "$(json "$out" "$s.missing")" "$(json "$out" "$s.extra")" "$(json "$out" "$s.changed")"
	fi
	if has_tool duckdb; then
		out="$WORK/out/duckdb-$fmt.json"
		argv_of duckdb "$fmt"
		"${ARGV[@]}" >"$out" || die "duckdb-diff on $fmt failed" 1
		check duckdb "$fmt" "$(json "$out" j.missing)" "$(json "$out" j.extra)" "$(json "$out" j.changed)"
	fi
done

# ---- timing (hyperfine) ---------------------------------------------------
label="rows${ROWS}${suffix}"
declare -A WALL RSS
for fmt in $FORMATS; do
	hf=(hyperfine --shell=bash --warmup 1 --runs "$RUNS" --export-json "$WORK/results/hyperfine-$label-$fmt.json")
	for t in $TOOLS; do hf+=(-n "$t $fmt" "$(shell_cmd "$t" "$fmt")"); done
	log "timing $fmt: ${TOOLS}"
	"${hf[@]}" >&2
	i=0
	for t in $TOOLS; do
		WALL[$t,$fmt]=$(json "$WORK/results/hyperfine-$label-$fmt.json" "j.results[$i].median.toFixed(3)")
		i=$((i + 1))
	done
done

# ---- peak RSS (/usr/bin/time -v) ------------------------------------------
for fmt in $FORMATS; do
	for t in $TOOLS; do
		argv_of "$t" "$fmt"
		vals=()
		for ((r = 1; r <= RSS_RUNS; r++)); do
			tf="$WORK/results/time-$label-$t-$fmt-$r.txt"
			rc=0
			/usr/bin/time -v -o "$tf" "${ARGV[@]}" >/dev/null 2>&1 || rc=$?
			((rc <= 1)) || die "$t on $fmt exited $rc under /usr/bin/time" 1
			vals+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")")
		done
		RSS[$t,$fmt]=$(awk -v kb="$(median "${vals[@]}")" 'BEGIN {printf "%.1f", kb / 1024}')
		log "peak RSS $t $fmt: ${vals[*]} KiB -> median ${RSS[$t,$fmt]} MiB"
	done
done

# ---- report ---------------------------------------------------------------
summary="$WORK/results/summary-$label-$(date +%Y%m%d-%H%M%S).txt"
{
	echo "reconcile benchmark: $ROWS rows, drift $DRIFT, seed $SEED, target $([[ $SHUFFLE == 1 ]] && echo shuffled || echo "in id order")"
	echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(go version | cut -d' ' -f3); node $(node --version)$(has_tool duckdb && echo "; $(node "$SCRIPTS/duckdb-diff.mjs" --version)")"
	echo "wall: hyperfine median of $RUNS runs after 1 warmup (warm page cache); RSS: median of $RSS_RUNS runs of /usr/bin/time -v"
	echo
	printf '%-10s %-8s %12s %14s %12s %12s\n' tool format "wall s" "peak RSS MiB" "wall ratio" "RSS ratio"
	for fmt in $FORMATS; do
		for t in $TOOLS; do
			wr="-" rr="-"
			if [[ $t == reconcile ]] && has_tool duckdb; then
				wr=$(awk -v a="${WALL[reconcile,$fmt]}" -v b="${WALL[duckdb,$fmt]}" 'BEGIN {printf "%.2f", a / b}')
				rr=$(awk -v a="${RSS[reconcile,$fmt]}" -v b="${RSS[duckdb,$fmt]}" 'BEGIN {printf "%.2f", a / b}')
			fi
			printf '%-10s %-8s %12s %14s %12s %12s\n' "$t" "$fmt" "${WALL[$t,$fmt]}" "${RSS[$t,$fmt]}" "$wr" "$rr"
		done
	done
	if has_tool reconcile && has_tool duckdb; then
		echo
		echo "ratio = reconcile / duckdb (below 1: reconcile is faster / smaller)"
	fi
} | tee "$summary"
log "results in $WORK/results (summary: $summary)"
