#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the local suite and the tests.
#
#   deploy/local/postgres.sh start|stop|status|url [--dir DIR] [--port PORT]
#
# start: installs PostgreSQL from Debian's packages if no server is present, initialises a
#        cluster in DIR on first use (scram-sha-256 over TCP, superuser `postgres` with a
#        generated password kept in DIR/superuser.password), and starts it on 127.0.0.1:PORT with
#        a private socket directory. Postgres refuses to run as root: as root, the cluster runs
#        as the `postgres` user through runuser. Idempotent.
# url:   prints the superuser URL of database `maestro` (created on start).
# Defaults: DIR=.local/postgres PORT=55432 (make test uses .local/postgres-test and 55433).
set -euo pipefail

cmd=${1:-}
shift || true
dir=${MAESTRO_PG_DIR:-.local/postgres}
port=${MAESTRO_PG_PORT:-55432}
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    *) echo "postgres.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/data"
sock="$dir/socket"

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$found" ] || [ ! -x "$found/postgres" ]; then
    echo "postgres.sh: installing PostgreSQL (Debian package postgresql)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-contrib >&2
    found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$found"
}

# Runs a server binary as the cluster's owner: `postgres` when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$dir" && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

password() { cat "$dir/superuser.password"; }

url() { echo "postgres://postgres:$(password)@127.0.0.1:$port/${1:-maestro}?sslmode=disable"; }

psql_admin() {
  PGPASSWORD=$(password) psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

running() {
  [ -f "$data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

start() {
  bin=$(pg_bin)
  if [ "$(id -u)" -eq 0 ]; then
    # The postgres user must be able to reach DIR: make each parent traversable.
    local p="$dir"
    while [ "$p" != "/" ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    chown postgres "$dir"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    umask 077
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/superuser.password"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir/superuser.password"
    as_owner "$bin/initdb" -D "$data" -U postgres --pwfile="$dir/superuser.password" \
      --auth-host=scram-sha-256 --auth-local=peer -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    umask 022
  fi
  mkdir -p "$sock"
  [ "$(id -u)" -eq 0 ] && chown postgres "$sock"
  if running; then
    echo "postgres: already running on 127.0.0.1:$port ($data)" >&2
  else
    as_owner "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
      -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c max_connections=${MAESTRO_PG_MAX_CONNECTIONS:-400} -c shared_buffers=128MB" start >/dev/null \
      || { tail -n 30 "$dir/postgres.log" >&2; exit 1; }
    echo "postgres: started on 127.0.0.1:$port ($data)" >&2
  fi
  if [ -z "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'maestro'")" ]; then
    psql_admin -d postgres -c "CREATE DATABASE maestro"
  fi
}

stop() {
  bin=$(pg_bin)
  if running; then
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    echo "postgres: stopped ($data)" >&2
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) bin=$(pg_bin); if running; then echo "running on 127.0.0.1:$port"; else echo "stopped"; exit 1; fi ;;
  url) url "${MAESTRO_PG_DATABASE:-maestro}" ;;
  *) echo "usage: $0 start|stop|status|url [--dir DIR] [--port PORT]" >&2; exit 2 ;;
esac
