.PHONY: bench bench-files bench-postgres bench-mysql bench-bisect bench-snapshot

# Go micro-benchmarks of every package.
bench:
	go test -run='^$$' -bench=. -benchmem ./...

# End-to-end benchmark: reconcile vs a DuckDB FULL OUTER JOIN on a generated
# 2M-row pair, CSV and Parquet (see scripts/README.md; env ROWS, RUNS, WORK, SHUFFLE).
bench-files:
	bash scripts/bench-files.sh

# End-to-end benchmark between two PostgreSQL databases built with pgbench
# (scales 10 and 50), against psql's \copy of each side (env SCALES, RUNS, PGADMIN).
bench-postgres:
	bash scripts/bench-postgres.sh

# End-to-end benchmark with MariaDB sides (MySQL↔MySQL, MySQL↔PostgreSQL)
# against the mysql client's export of each side (env SCALE, RUNS).
bench-mysql:
	bash scripts/bench-mysql.sh

# Bisect (checksums in PostgreSQL) against stream and a full-table aggregate.
bench-bisect:
	bash scripts/bench-bisect.sh

# Snapshot write against streaming the table; snapshot-vs-snapshot diff
# rows/s and peak RSS (env SCALE, RUNS, RSS_RUNS, PGADMIN).
bench-snapshot:
	bash scripts/bench-snapshot.sh
