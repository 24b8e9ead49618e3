// Package metrics exposes what reconcile's runs find as Prometheus
// metrics, on a registry of its own (no global registry, no init).
//
// The metrics, all per job:
//
//	reconcile_rows{job,system}                              gauge   rows read by the last complete diff
//	reconcile_differences{job,system,kind}                  gauge   keys per kind (missing, extra, changed, duplicate, null_key, in_flight)
//	reconcile_column_differences{job,system,column}         gauge   changed rows per differing column
//	reconcile_run_duration_seconds{job}                     gauge   duration of the last run
//	reconcile_last_run_timestamp_seconds{job,outcome}       gauge   end of the last run; one series per job, labelled with its outcome
//	reconcile_last_success_timestamp_seconds{job}           gauge   end of the last completed run (consistent or differences)
//	reconcile_batches{job,state}                            gauge   fix-up batches per state
//	reconcile_fix_operations_total{job,system,outcome}      counter fix-up operations applied, per outcome
//
// Everything a run measures is a gauge: it is the state found by the
// last run, not something that accumulates. Only the applied fix-up
// operations are counted, so that rate() and increase() work across
// restarts. The run duration is a gauge of the last run rather than a
// histogram: a nightly job yields one observation a day, which a
// histogram's buckets say nothing useful about, and a process started
// by cron for one run would publish a histogram holding a single
// sample; plotting the gauge over time shows a run getting slower.
//
// Label values are bounded: job and system are names from the config,
// kind, state and outcome are fixed sets (Kinds, States, Outcomes,
// FixOutcomes) and anything else is refused; column names are bounded
// by the tables' schemas, and only differing columns have a series.
// No label holds a location: a job or system name that contains "://"
// or "@" is refused, so a DSN cannot become a label by mistake; any
// label value that is empty, not UTF-8, holds a control character or
// is longer than 256 bytes is refused too. Column names may contain
// "@" (they come from schemas, not from locations).
//
// Stale series: a completed run replaces all of its job's drift
// series, so a replica removed from the config or a column that no
// longer differs disappears at the next run; a failed or cancelled run
// replaces only the replicas it completed and never reports the others
// as clean. Forget drops a job removed from the config.
//
// Metrics are served by Handler (with the Go runtime and process
// metrics) or written by WriteTextfile for node_exporter's textfile
// collector, atomically.
//
// Example, after a run:
//
//	m := metrics.New()
//	err := m.ObserveRun(metrics.RunResult{
//		Job: "orders", SystemOfRecord: "erp", Outcome: metrics.Differences,
//		Started: start, Finished: time.Now(),
//		Replicas: []metrics.ReplicaResult{{
//			System: "warehouse", SourceRows: 1000, TargetRows: 998,
//			Counts:  metrics.CountsByKind(res.Summary),
//			Columns: map[string]int64{"amount": 3},
//		}},
//	})
//	...
//	err = m.WriteTextfile("/var/lib/node_exporter/textfile_collector/reconcile-orders.prom")
package metrics
