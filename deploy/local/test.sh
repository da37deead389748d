#!/usr/bin/env bash
# make test: builds everything (products and tests), starts a private Postgres on port 55433
# (so it never clashes with make run's 55432), runs the whole test suite against it, and stops
# Postgres again. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
port=${MAESTRO_TEST_PG_PORT:-55433}
dir=${MAESTRO_TEST_PG_DIR:-.local/postgres-test}

swift build --build-tests
bin=$(swift build --show-bin-path)

# Every migration in the repository is linted for locking hazards before anything runs.
"$bin/migration-service" lint --migrations-dir services

# The gateway's OpenAPI document, checked by a standard validator; the same Python runs the
# grpcio interop client (Tests/Interop) from the Swift tests.
export MAESTRO_TEST_PYTHON
MAESTRO_TEST_PYTHON=$(deploy/local/python-env.sh)
"$bin/auth-gateway" openapi >"$bin/openapi.json"
"$MAESTRO_TEST_PYTHON" -m openapi_spec_validator "$bin/openapi.json"

# The suites run in parallel and many spawn real services, each with its connection pools:
# 400 connections (the local default) is not enough for all of them at once.
MAESTRO_PG_MAX_CONNECTIONS=${MAESTRO_PG_MAX_CONNECTIONS:-1200} deploy/local/postgres.sh start --dir "$dir" --port "$port"
# Services the tests spawned and lost (the test process crashed) are orphans of init: stop them
# too, so they neither hold Postgres connections nor eat the CPU of whatever runs next.
kill_orphans() {
    ps -eo pid=,ppid=,args= | awk -v bin="$bin/" '$2 == 1 && index($3, bin) == 1 {print $1}' | xargs -r kill -9 2>/dev/null || true
}
trap 'kill_orphans; deploy/local/postgres.sh stop --dir "$dir" --port "$port"' EXIT

export MAESTRO_TEST_DATABASE_URL
MAESTRO_TEST_DATABASE_URL=$(MAESTRO_PG_DATABASE=postgres deploy/local/postgres.sh url --dir "$dir" --port "$port")
export MAESTRO_BIN_DIR="$bin"
export MAESTRO_REPO_ROOT="$root"
# The whole output is kept; a failing run ends with its failures again, so a log cut to its
# tail (as CI shows it) still names the failing tests and where they failed.
log="$bin/test-output.log"
status=0
# Swift Testing runs every test in parallel by default; many spawn real processes, and on a
# 2-core machine an unbounded burst of them starves the timing-sensitive ones (an SLA, a warm-up).
# A bounded width keeps the suite parallel and its timings honest.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${MAESTRO_TEST_PARALLELISM:-12}
swift test --skip-build "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
    echo "---- failures (full log: $log) ----"
    grep -E "^✘|recorded an issue|error:|Fatal error|Program crashed" "$log" | head -n 60 || true
    # After a crash: the tests that started and never finished.
    grep -E '^◇ Test "' "$log" | sed -E 's/^◇ Test "(.*)" started\.$/\1/' | sort -u >"$log.started"
    grep -E '^[✔✘] Test "' "$log" | sed -E 's/^[✔✘] Test "(.*)" (passed|failed|recorded).*$/\1/' | sort -u >"$log.ended"
    echo "---- started, never ended ----"
    comm -23 "$log.started" "$log.ended" | head -n 30
fi
exit "$status"
