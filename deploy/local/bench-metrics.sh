#!/usr/bin/env bash
# make bench-metrics: on one private Postgres (port 55437), with a release build, measure
#   1. ingest: events/s through the RecordEvents handler in batches of 10,000 (protobuf decode,
#      validation, aggregation and the Postgres upserts; 4 concurrent reporters, 100 series),
#      against a ceiling of pgbench single-row INSERT commits/s measured in the same run;
#   2. SLO status latency over 30 days of 1-minute data for 100 series (4.3 M minute rows,
#      rolled up into hours and days), against a SELECT 1 round trip: first summed from the
#      series, then with the SLO filter's materialised aggregate (the goal's figure);
# and print them against the goals (>= 100,000 events/s, status < 50 ms).
# Note: this VM's fsync is very fast; real disks lower the ingest figure.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${MAESTRO_BENCH_METRICS_PG_PORT:-55437}
dir=.local/postgres-bench-metrics
seconds=${MAESTRO_BENCH_SECONDS:-10}

# MAESTRO_BENCH_SCRATCH_PATH builds in its own folder (e.g. .build-release), so a running
# debug build or test run does not hold the build lock.
scratch=()
[ -z "${MAESTRO_BENCH_SCRATCH_PATH:-}" ] || scratch=(--scratch-path "$MAESTRO_BENCH_SCRATCH_PATH")
# MAESTRO_BENCH_CONFIGURATION=debug gives indicative figures without a release build.
configuration=${MAESTRO_BENCH_CONFIGURATION:-release}
swift build -c "$configuration" "${scratch[@]}" --product metrics-service >&2
swift build -c "$configuration" "${scratch[@]}" --product migration-service >&2
bin=$(swift build -c "$configuration" "${scratch[@]}" --show-bin-path)
echo "build: $configuration"

rm -rf "$dir"
deploy/local/postgres.sh start --dir "$dir" --port "$port" >&2
trap 'deploy/local/postgres.sh stop --dir "$dir" --port "$port" >&2' EXIT
admin=$(deploy/local/postgres.sh url --dir "$dir" --port "$port")
MAESTRO_ADMIN_DATABASE_URL="$admin" "$bin/migration-service" migrate >/dev/null

ceiling=$(deploy/local/pgbench-ceiling.sh --dir "$dir" --port "$port" --seconds "$seconds")
echo "ceiling: pgbench single-row INSERT commits/s (8 clients): $ceiling"

out=$("$bin/metrics-service" bench --database-url "postgres://maestro_metrics:maestro-metrics-local@127.0.0.1:$port/maestro?sslmode=disable" --seconds "$seconds")
echo "$out" | grep -v '^[A-Z_0-9]*='
rate=$(echo "$out" | awk -F= '/^INGEST_EVENTS_PER_SECOND=/ {print $2}')
p99_all=$(echo "$out" | awk -F= '/^STATUS_P99_MS_ALL=/ {print $2}')
p99_one=$(echo "$out" | awk -F= '/^STATUS_P99_MS_ONE=/ {print $2}')
p50_all=$(echo "$out" | awk -F= '/^STATUS_P50_MS_ALL=/ {print $2}')
p50_one=$(echo "$out" | awk -F= '/^STATUS_P50_MS_ONE=/ {print $2}')
series_all=$(echo "$out" | awk -F= '/^STATUS_SERIES_P99_MS_ALL=/ {print $2}')
awk -v r="$rate" -v c="$ceiling" 'BEGIN { printf "ingest: %d events/s = %.1f events per ceiling insert commit (goal: >= 100000 events/s; %s)\n", r, r / c, (r >= 100000 ? "met" : "NOT met") }'
awk -v a="$p99_all" -v o="$p99_one" -v a5="$p50_all" -v o5="$p50_one" -v s="$series_all" 'BEGIN { printf "status p50/p99: %.2f/%.2f ms (100 series), %.2f/%.2f ms (1 series) (goal: < 50 ms; %s); 100-series p99 from the series alone: %.2f ms\n", a5, a, o5, o, (a < 50 && o < 50 ? "met" : "NOT met"), s }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
