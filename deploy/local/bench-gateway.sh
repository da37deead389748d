#!/usr/bin/env bash
# make bench-gateway: in one run, on one private Postgres (port 55437 by default), release builds
# of auth-gateway and workflow-service, then h2load (16 connections x 32 streams) against
#   1. the ceiling: workflow-service's GetWorkflow called directly (gRPC, bearer token);
#   2. the same RPC through the gateway's gRPC port (authentication, RBAC, limits, forwarding);
#   3. a REST GET of the same workflow through the gateway (HTTP/1.1 JSON);
# printing each rate with p50/p99 latency and the gateway/direct ratio (goal >= 0.5).
# h2load does not read grpc-status: success is checked on the services' own counters.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
port=${MAESTRO_BENCH_PG_PORT:-55437}
dir=${MAESTRO_BENCH_PG_DIR:-.local/postgres-bench-gateway}
requests=${MAESTRO_BENCH_REQUESTS:-40000}
state=$(mktemp -d)

command -v h2load >/dev/null || {
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y nghttp2-client >/dev/null; else sudo apt-get install -y nghttp2-client >/dev/null; fi
}

# MAESTRO_BENCH_SCRATCH: a separate build folder (e.g. .build-bench) so the release build does
# not wait for, or block, debug builds in .build.
scratch=(${MAESTRO_BENCH_SCRATCH:+--scratch-path "$MAESTRO_BENCH_SCRATCH"})
swift build -c release "${scratch[@]}" --product auth-gateway >&2
swift build -c release "${scratch[@]}" --product workflow-service >&2
swift build -c release "${scratch[@]}" --product migration-service >&2
bin=$(swift build -c release "${scratch[@]}" --show-bin-path)

rm -rf "$dir"
deploy/local/postgres.sh start --dir "$dir" --port "$port" >&2
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  deploy/local/postgres.sh stop --dir "$dir" --port "$port" >&2
  rm -rf "$state"
}
trap cleanup EXIT
admin=$(deploy/local/postgres.sh url --dir "$dir" --port "$port")
MAESTRO_ADMIN_DATABASE_URL="$admin" MAESTRO_MIGRATIONS_DIR="$root/services" MAESTRO_LOG_LEVEL=warning "$bin/migration-service" migrate >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
log_value() { # file key: waits for a JSON log line carrying key
  for _ in $(seq 1 600); do
    value=$(grep -o "\"$2\":\"[0-9]*\"" "$1" | head -n 1 | grep -o '[0-9]*' || true)
    [ -n "$value" ] && { echo "$value"; return; }
    sleep 0.1
  done
  echo "bench-gateway: no $2 in $1" >&2; tail -n 20 "$1" >&2; exit 1
}

workflow_port=$(free_port)
MAESTRO_DATABASE_URL="postgres://maestro_auth:maestro-auth-local@127.0.0.1:$port/maestro?sslmode=disable" \
  MAESTRO_MASTER_KEY=$(head -c 32 /dev/urandom | base64) MAESTRO_BOOTSTRAP_ADMIN_PASSWORD="bench admin password" \
  MAESTRO_BOOTSTRAP_ADMIN_PASSWORD_FILE="$state/admin.password" MAESTRO_BOOTSTRAP_SECRETS_DIR="$state/secrets" \
  MAESTRO_WORKFLOW_SERVICE_ADDRESS="127.0.0.1:$workflow_port" MAESTRO_LOG_FORMAT=json MAESTRO_LOG_LEVEL=info \
  MAESTRO_RATE_LIMIT_ROLES="admin=1000000:1000000" MAESTRO_RATE_LIMIT_TENANT=1000000:1000000 MAESTRO_TENANT_MAX_IN_FLIGHT=0 \
  "$bin/auth-gateway" serve --host 127.0.0.1 --grpc-port 0 --admin-port 0 --rest-port 0 >"$state/gateway.log" 2>&1 &
pids+=($!)
gateway_grpc=$(log_value "$state/gateway.log" grpc_port)
gateway_rest=$(log_value "$state/gateway.log" rest_port)
gateway_admin=$(log_value "$state/gateway.log" admin_port)

MAESTRO_DATABASE_URL="postgres://maestro_workflow:maestro-workflow-local@127.0.0.1:$port/maestro?sslmode=disable" \
  MAESTRO_JWKS_URL="http://127.0.0.1:$gateway_rest/.well-known/jwks.json" MAESTRO_LOG_FORMAT=json MAESTRO_LOG_LEVEL=info \
  MAESTRO_WORKFLOWS_DIR="$root/services/workflow-service/workflows" MAESTRO_REFERENCE_TENANT=default \
  "$bin/workflow-service" serve --host 127.0.0.1 --grpc-port "$workflow_port" --admin-port 0 >"$state/workflow.log" 2>&1 &
pids+=($!)
workflow_admin=$(log_value "$state/workflow.log" admin_port)
for _ in $(seq 1 600); do
  "$bin/auth-gateway" probe --target "127.0.0.1:$gateway_grpc" --timeout 1 >/dev/null 2>&1 \
    && "$bin/workflow-service" probe --target "127.0.0.1:$workflow_port" --timeout 1 >/dev/null 2>&1 && break
  sleep 0.1
done

token=$(curl -sf -X POST "http://127.0.0.1:$gateway_rest/v1/auth/token" \
  --data-urlencode grant_type=password --data-urlencode username=admin --data-urlencode "password=bench admin password" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# Wait until the reference workflow is registered (and warm the backend's JWKS cache).
for _ in $(seq 1 300); do
  curl -sf -H "authorization: Bearer $token" "http://127.0.0.1:$gateway_rest/v1/workflows/hello-world" >/dev/null && break
  sleep 0.2
done

# GetWorkflowRequest{name: "hello-world"} as one length-prefixed gRPC message.
python3 - "$state/get-workflow.bin" <<'PY2'
import struct, sys
name = b"hello-world"
message = b"\x0a" + bytes([len(name)]) + name
open(sys.argv[1], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
PY2

ok_count() { # admin_port: GetWorkflow ok count
  curl -s "http://127.0.0.1:$1/metrics" | awk -F' ' '/maestro_grpc_requests_total\{.*GetWorkflow",code="ok"\}/ {s+=$2} END {printf "%d", s}'
}

# run name url [h2load options…]: prints "name rate p50 p99" from h2load's per-request log.
run() {
  local name=$1 url=$2; shift 2
  local log="$state/h2load-$name.log"
  h2load -n "$requests" -c 16 -m 32 -t 1 --log-file="$log" "$@" "$url" >"$state/h2load-$name.out" 2>&1 \
    || { cat "$state/h2load-$name.out" >&2; exit 1; }
  python3 - "$name" "$log" "$state/h2load-$name.out" <<'PY2'
import re, sys
name, log, out = sys.argv[1:4]
durations = sorted(int(line.split()[2]) for line in open(log) if line.strip())
text = open(out).read()
rate = float(re.search(r"finished in [0-9.]+m?s, ([0-9.]+) req/s", text).group(1))
codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
def pct(p):
    return durations[min(len(durations) - 1, int(len(durations) * p))] / 1000.0
print(f"{name} {rate:.0f} {pct(0.50):.2f} {pct(0.99):.2f} {codes.group(1)}")
PY2
}

grpc_headers=(-H "content-type: application/grpc" -H "te: trailers" -H "authorization: Bearer $token" -d "$state/get-workflow.bin")
before_backend=$(ok_count "$workflow_admin")
direct=$(run direct "http://127.0.0.1:$workflow_port/maestro.workflow.v1.WorkflowService/GetWorkflow" "${grpc_headers[@]}")
before_gateway=$(ok_count "$gateway_admin")
via=$(run gateway "http://127.0.0.1:$gateway_grpc/maestro.workflow.v1.WorkflowService/GetWorkflow" "${grpc_headers[@]}")
after_gateway=$(ok_count "$gateway_admin")
rest=$(run rest "http://127.0.0.1:$gateway_rest/v1/workflows/hello-world" --h1 -H "authorization: Bearer $token")
after_backend=$(ok_count "$workflow_admin")

read -r _ direct_rate direct_p50 direct_p99 _ <<<"$direct"
read -r _ via_rate via_p50 via_p99 _ <<<"$via"
read -r _ rest_rate rest_p50 rest_p99 rest_2xx <<<"$rest"
echo "requests per run: $requests (h2load -c16 -m32; REST over HTTP/1.1 -c16)"
echo "checked: backend GetWorkflow ok $((after_backend - before_backend)) of $((3 * requests)); gateway forwarded ok $((after_gateway - before_gateway)) of $requests; REST 2xx $rest_2xx of $requests"
printf "%-34s %10s %10s %10s\n" "" "req/s" "p50 ms" "p99 ms"
printf "%-34s %10s %10s %10s\n" "GetWorkflow direct (ceiling)" "$direct_rate" "$direct_p50" "$direct_p99"
printf "%-34s %10s %10s %10s\n" "GetWorkflow through the gateway" "$via_rate" "$via_p50" "$via_p99"
printf "%-34s %10s %10s %10s\n" "REST GET /v1/workflows/{name}" "$rest_rate" "$rest_p50" "$rest_p99"
awk -v v="$via_rate" -v d="$direct_rate" 'BEGIN { r = v / d; printf "ratio gateway/direct: %.2f (goal >= 0.5: %s)\n", r, (r >= 0.5 ? "met" : "not met") }'
