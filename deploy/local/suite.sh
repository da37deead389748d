#!/usr/bin/env bash
# The local suite (make run): Postgres, migrations, then the five services on their documented
# ports, each checked SERVING over gRPC health. Ctrl-C (or SIGTERM) drains every service and
# stops Postgres. Running it again while a suite is up replaces that suite.
#
#   deploy/local/suite.sh BIN_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${1:?usage: suite.sh BIN_DIR}
state="$root/.local"
logs="$state/logs"
run="$state/run"
mkdir -p "$logs" "$run"

# name grpc_port admin_port schema
services=(
  "migration-service 9104 9205 migration"
  "auth-gateway 9090 9201 auth"
  "workflow-service 9101 9202 workflow"
  "scheduler 9102 9203 scheduler"
  "metrics-service 9103 9204 metrics"
)

stop_services() {
  local pids=()
  for f in "$run"/*.pid; do
    [ -e "$f" ] || continue
    local pid; pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
    rm -f "$f"
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

shutdown() {
  trap - INT TERM EXIT
  echo
  echo "suite: stopping services (SIGTERM, graceful drain)"
  stop_services
  deploy/local/postgres.sh stop
  exit "${1:-0}"
}

if ls "$run"/*.pid >/dev/null 2>&1; then
  echo "suite: a previous suite is running; stopping it first"
  stop_services
fi

deploy/local/postgres.sh start
admin_url=$(deploy/local/postgres.sh url)
trap 'shutdown 0' INT
trap 'shutdown 0' TERM
trap 'shutdown 1' EXIT

echo "suite: migrating"
MAESTRO_ADMIN_DATABASE_URL="$admin_url" MAESTRO_MIGRATIONS_DIR="$root/services" "$bin/migration-service" migrate

# The gateway's master key (encrypts signing keys at rest): generated once, kept in .local.
master_key="$state/master.key"
if [ ! -s "$master_key" ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 >"$master_key")
  echo "suite: generated a local master key in $master_key (keep it: it decrypts the signing keys)"
fi
export MAESTRO_MASTER_KEY_FILE="$master_key"
export MAESTRO_BOOTSTRAP_ADMIN_PASSWORD_FILE="$state/bootstrap-admin.password"
export MAESTRO_BOOTSTRAP_SECRETS_DIR="$state/secrets"
# Where the gateway forwards each backend's RPCs (a comma-separated list spreads the calls).
export MAESTRO_WORKFLOW_SERVICE_ADDRESS=127.0.0.1:9101 MAESTRO_SCHEDULER_ADDRESS=127.0.0.1:9102
export MAESTRO_METRICS_SERVICE_ADDRESS=127.0.0.1:9103 MAESTRO_MIGRATION_SERVICE_ADDRESS=127.0.0.1:9104
# workflow-service reports finished runs to metrics-service as its bootstrapped service account
# (client secret in $state/secrets/workflow-service.secret, the reporter's default).
export MAESTRO_METRICS_TARGET=127.0.0.1:9103 MAESTRO_AUTH_TARGET=127.0.0.1:9090

for entry in "${services[@]}"; do
  read -r name grpc admin schema <<<"$entry"
  # migration-service's Apply/Rollback RPCs need the administrator connection (local suite only).
  extra=()
  if [ "$name" = migration-service ]; then
    extra=(MAESTRO_ADMIN_DATABASE_URL="$admin_url" MAESTRO_BACKUP_DIR="$state/backups")
  fi
  env "${extra[@]}" MAESTRO_MIGRATIONS_DIR="$root/services" MAESTRO_LOG_FORMAT=json \
    "$bin/$name" serve --grpc-port "$grpc" --admin-port "$admin" >"$logs/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
done

echo "suite: waiting for every service to report SERVING"
deadline=$((SECONDS + 90))
for entry in "${services[@]}"; do
  read -r name grpc admin schema <<<"$entry"
  until "$bin/$name" probe --target "127.0.0.1:$grpc" --timeout 1 >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$run/$name.pid")" 2>/dev/null; then
      echo "suite: $name exited during startup; last log lines:" >&2
      tail -n 20 "$logs/$name.log" >&2
      shutdown 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "suite: $name did not report SERVING within 90 s; see $logs/$name.log" >&2
      shutdown 1
    fi
    sleep 0.2
  done
  echo "  $name  SERVING  gRPC 127.0.0.1:$grpc  admin http://127.0.0.1:$admin/metrics"
done

# The reference worker serves the demo task queues through the gateway (the public worker API)
# as the bootstrapped service account maestro-worker (tenant default, role workflow-operator).
MAESTRO_LOG_FORMAT=json "$bin/workflow-service" worker --target 127.0.0.1:9090 \
  --secret-file "$state/secrets/maestro-worker.secret" >"$logs/maestro-worker.log" 2>&1 &
echo $! >"$run/maestro-worker.pid"
echo "  maestro-worker  polling demo.uppercase, demo.word-count, demo.extract-entities via 127.0.0.1:9090"

# The shipped templates' demo endpoints (sources and a sink on loopback, port 9300; standard-library
# Python). Without python3 the suite runs as before; the templates then need endpoints of your own.
if command -v python3 >/dev/null; then
  python3 examples/template-endpoints/serve.py --port "${MAESTRO_DEMO_ENDPOINTS_PORT:-9300}" >"$logs/template-endpoints.log" 2>&1 &
  echo $! >"$run/template-endpoints.pid"
  echo "  template demo endpoints  http://127.0.0.1:${MAESTRO_DEMO_ENDPOINTS_PORT:-9300} (/articles/N, /records, /sink)"
fi

cat <<MSG

Maestro is running.
  Gateway REST   http://127.0.0.1:8080   (curl http://127.0.0.1:8080/healthz)
  Gateway gRPC   127.0.0.1:9090          ($bin/auth-gateway probe --target 127.0.0.1:9090)
  Backends gRPC  9101 workflow-service, 9102 scheduler, 9103 metrics-service, 9104 migration-service
  Admin HTTP     9201-9205: /healthz /readyz /metrics
  Admin login    user admin, tenant default; password: \$MAESTRO_BOOTSTRAP_ADMIN_PASSWORD if set, else in
                 $state/bootstrap-admin.password (generated on first start)
  Backend SAs    client secrets in $state/secrets/<service>.secret (maestro-worker: the reference worker)
  Postgres       $(deploy/local/postgres.sh url | sed 's|://postgres:[^@]*@|://postgres:***@|')
                 (superuser password in .local/postgres/superuser.password)
  Templates      intelligence-analysis, data-processing (services/workflow-service/README.md, "Templates")
  Logs           $logs/<service>.log
Press Ctrl-C to stop everything.
MSG

# Wait until any service exits (a crash) or we are interrupted.
set +e
wait -n
status=$?
set -e
echo "suite: a service exited unexpectedly (status $status); stopping the suite" >&2
for entry in "${services[@]}"; do
  read -r name _ <<<"$entry"
  kill -0 "$(cat "$run/$name.pid" 2>/dev/null || echo 0)" 2>/dev/null || { echo "--- $name:" >&2; tail -n 10 "$logs/$name.log" >&2; }
done
shutdown 1
