#!/usr/bin/env bash
# The benchmarks' ceiling: pgbench single-row INSERT commits/s (8 clients) on the private Postgres
# a benchmark started. Prints the integer rate.
#   deploy/local/pgbench-ceiling.sh --dir DIR --port PORT --seconds N
set -euo pipefail
cd "$(dirname "$0")/../.."
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "pgbench-ceiling: unknown argument $1" >&2; exit 2 ;;
  esac
done
export PGPASSWORD
PGPASSWORD=$(cat "$dir/superuser.password")
psql -h 127.0.0.1 -p "$port" -U postgres -d maestro -qc "CREATE TABLE IF NOT EXISTS public.bench_ceiling (id bigserial PRIMARY KEY, v int)"
echo "INSERT INTO public.bench_ceiling (v) VALUES (1);" > "$dir/insert.sql"
pgbench_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pgbench
"$pgbench_bin" -h 127.0.0.1 -p "$port" -U postgres -n -c 8 -j 2 -T "$seconds" -f "$dir/insert.sql" maestro 2>/dev/null \
  | awk '/^tps/ {print int($3)}'
