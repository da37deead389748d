#!/usr/bin/env bash
# make bench-scheduler: on one private Postgres (port 55439), with a release build, run the real
# auth-gateway (tokens), workflow-service (runs a one-step workflow) and scheduler on free ports,
# and measure with 100,000 schedules:
#   1. idle: the scheduler's CPU (share of one core) while every schedule is active but none is
#      due for months, and how many sequential scans of the schedules table it made (goal: ~0);
#   2. firing: each schedule fires every 10 minutes, offsets spread evenly (~167 fires/s); fire
#      lag p50/p99 = due time -> StartRun confirmed (goal: p99 < 1 s);
#   3. the ceiling in the same run: StartRun calls/s on the same workflow-service (32 callers),
#      with the bench schedules paused so that their fires do not compete with it.
# Note: this VM's fsync is very fast; real disks slow the run starts, not the scheduler's reads.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
port=${MAESTRO_BENCH_SCHEDULER_PG_PORT:-55439}
dir=.local/postgres-bench-scheduler
schedules=${MAESTRO_BENCH_SCHEDULES:-100000}
fire_seconds=${MAESTRO_BENCH_SECONDS:-60}

scratch=()
[ -z "${MAESTRO_BENCH_SCRATCH_PATH:-}" ] || scratch=(--scratch-path "$MAESTRO_BENCH_SCRATCH_PATH")
configuration=${MAESTRO_BENCH_CONFIGURATION:-release}
for product in scheduler workflow-service auth-gateway migration-service; do
  swift build -c "$configuration" "${scratch[@]}" --product "$product" >&2
done
bin=$(swift build -c "$configuration" "${scratch[@]}" --show-bin-path)
echo "build: $configuration"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  deploy/local/postgres.sh stop --dir "$dir" --port "$port" >&2 || true
  rm -rf "$work"
}
trap cleanup EXIT

rm -rf "$dir"
deploy/local/postgres.sh start --dir "$dir" --port "$port" >&2
admin=$(deploy/local/postgres.sh url --dir "$dir" --port "$port")
MAESTRO_ADMIN_DATABASE_URL="$admin" MAESTRO_MIGRATIONS_DIR="$root/services" "$bin/migration-service" migrate >/dev/null
url() { echo "postgres://maestro_$1:maestro-$1-local@127.0.0.1:$port/maestro?sslmode=disable"; }

# The port a service logged under `key` (JSON logs), waiting up to 60 s.
logged_port() {
  local log=$1 key=$2
  for _ in $(seq 1 600); do
    local value; value=$(grep -o "\"$key\":\"[0-9]*\"" "$log" 2>/dev/null | head -1 | grep -o '[0-9]*' || true)
    if [ -n "$value" ]; then echo "$value"; return 0; fi
    sleep 0.1
  done
  echo "bench: no $key in $log" >&2; tail -n 20 "$log" >&2; return 1
}

head -c 32 /dev/urandom | base64 >"$work/master.key"
MAESTRO_DATABASE_URL=$(url auth) MAESTRO_MASTER_KEY_FILE="$work/master.key" MAESTRO_BOOTSTRAP_ADMIN_PASSWORD_FILE="$work/admin.password" \
  MAESTRO_BOOTSTRAP_SECRETS_DIR="$work/secrets" MAESTRO_LOG_FORMAT=json MAESTRO_REST_PORT=0 \
  "$bin/auth-gateway" serve --host 127.0.0.1 --grpc-port 0 --admin-port 0 >"$work/gateway.log" 2>&1 &
pids+=($!)
gateway_grpc=$(logged_port "$work/gateway.log" grpc_port)
gateway_rest=$(logged_port "$work/gateway.log" rest_port)
for _ in $(seq 1 300); do [ -s "$work/secrets/scheduler.secret" ] && break; sleep 0.1; done

mkdir -p "$work/workflows/reference"
printf 'name: bench-noop\nsteps:\n  - {id: only, type: noop}\n' >"$work/workflows/reference/bench-noop.yaml"
MAESTRO_DATABASE_URL=$(url workflow) MAESTRO_JWKS_URL="http://127.0.0.1:$gateway_rest/.well-known/jwks.json" \
  MAESTRO_WORKFLOWS_DIR="$work/workflows" MAESTRO_REFERENCE_TENANT=default MAESTRO_LOG_FORMAT=json \
  "$bin/workflow-service" serve --host 127.0.0.1 --grpc-port 0 --admin-port 0 >"$work/workflow.log" 2>&1 &
pids+=($!)
workflow_grpc=$(logged_port "$work/workflow.log" grpc_port)

MAESTRO_DATABASE_URL=$(url scheduler) MAESTRO_JWKS_URL="http://127.0.0.1:$gateway_rest/.well-known/jwks.json" \
  MAESTRO_WORKFLOW_TARGET="127.0.0.1:$workflow_grpc" MAESTRO_AUTH_TARGET="127.0.0.1:$gateway_grpc" \
  MAESTRO_CLIENT_SECRET_FILE="$work/secrets/scheduler.secret" MAESTRO_SCHEDULER_REFERENCE_SCHEDULES=false \
  MAESTRO_LOG_FORMAT=json \
  "$bin/scheduler" serve --host 127.0.0.1 --grpc-port 0 --admin-port 0 >"$work/scheduler.log" 2>&1 &
scheduler_pid=$!
pids+=($scheduler_pid)
for _ in $(seq 1 600); do "$bin/scheduler" probe --target "127.0.0.1:$(logged_port "$work/scheduler.log" grpc_port)" --timeout 1 >/dev/null 2>&1 && break; sleep 0.1; done

echo "bench: $schedules schedules; services: gateway :$gateway_grpc, workflow-service :$workflow_grpc, scheduler pid $scheduler_pid"
"$bin/scheduler" bench --database-url "$(url scheduler)" --scheduler-pid "$scheduler_pid" \
  --workflow-target "127.0.0.1:$workflow_grpc" --auth-target "127.0.0.1:$gateway_grpc" \
  --client-secret-file "$work/secrets/scheduler.secret" --schedules "$schedules" --fire-seconds "$fire_seconds"
errors=$(grep -c '"level":"error"' "$work/scheduler.log" || true)
echo "scheduler log: $errors error lines"
