#!/usr/bin/env bash
# make bench-workflow: in one run, on one private Postgres (port 55435), measure
#   1. the ceiling: pgbench single-row INSERT commits/s (8 clients, 10 s);
#   2. Maestro: completed 1-step workflows/s through the real engine (release build), with
#      start→complete p50/p99;
# and print the ratio. Note: this VM's fsync is very fast; real disks lower both numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${MAESTRO_BENCH_PG_PORT:-55435}
dir=.local/postgres-bench
seconds=${MAESTRO_BENCH_SECONDS:-10}

swift build -c release --product maestro-bench >&2
swift build -c release --product migration-service >&2
bin=$(swift build -c release --show-bin-path)

rm -rf "$dir"
deploy/local/postgres.sh start --dir "$dir" --port "$port" >&2
trap 'deploy/local/postgres.sh stop --dir "$dir" --port "$port" >&2' EXIT
admin=$(deploy/local/postgres.sh url --dir "$dir" --port "$port")
MAESTRO_ADMIN_DATABASE_URL="$admin" "$bin/migration-service" migrate >/dev/null

ceiling=$(deploy/local/pgbench-ceiling.sh --dir "$dir" --port "$port" --seconds "$seconds")
echo "ceiling: pgbench single-row INSERT commits/s (8 clients): $ceiling"

out=$("$bin/maestro-bench" workflow --database-url "postgres://maestro_workflow:maestro-workflow-local@127.0.0.1:$port/maestro?sslmode=disable" --seconds "$seconds")
echo "$out" | grep -v WORKFLOWS_PER_SECOND
rate=$(echo "$out" | awk -F= '/WORKFLOWS_PER_SECOND/ {print $2}')
awk -v r="$rate" -v c="$ceiling" 'BEGIN { printf "ratio: %.3f workflows per ceiling insert (goal: >= 1000 workflows/s; %s)\n", r / c, (r >= 1000 ? "met" : "not met") }'
