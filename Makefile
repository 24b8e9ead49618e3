.PHONY: bench bench-files

# Go micro-benchmarks of every package.
bench:
	go test -run='^$$' -bench=. -benchmem ./...

# End-to-end benchmark: reconcile vs a DuckDB FULL OUTER JOIN on a generated
# 2M-row pair, CSV and Parquet (see scripts/README.md; env ROWS, RUNS, WORK, SHUFFLE).
bench-files:
	bash scripts/bench-files.sh
