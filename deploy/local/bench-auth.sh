#!/usr/bin/env bash
# make bench-auth: builds release, starts a private Postgres (port 55436 by default), migrates,
# runs the auth-gateway benchmark (token issuance/s, verification/s with cached and uncached
# JWKS) and stops Postgres. Prints figures; fails only if something breaks.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${MAESTRO_BENCH_PG_PORT:-55436}
dir=${MAESTRO_BENCH_PG_DIR:-.local/postgres-bench}

swift build -c release --product auth-bench
swift build -c release --product migration-service
bin=$(swift build -c release --show-bin-path)

deploy/local/postgres.sh start --dir "$dir" --port "$port"
trap 'deploy/local/postgres.sh stop --dir "$dir" --port "$port"' EXIT
admin_url=$(deploy/local/postgres.sh url --dir "$dir" --port "$port")
MAESTRO_ADMIN_DATABASE_URL="$admin_url" MAESTRO_MIGRATIONS_DIR="$(pwd)/services" MAESTRO_LOG_FORMAT=text MAESTRO_LOG_LEVEL=warning \
  "$bin/migration-service" migrate >/dev/null
# A fresh auth schema each run: drop what the previous run left.
PGPASSWORD=$(sed -n 's|^postgres://postgres:\([^@]*\)@.*|\1|p' <<<"$admin_url") \
  psql -h 127.0.0.1 -p "$port" -U postgres -d maestro -qAt -c \
  "TRUNCATE auth.sessions, auth.refresh_tokens, auth.login_backoff_users, auth.login_backoff_addresses, auth.role_bindings, auth.oidc_identities, auth.users, auth.service_accounts, auth.signing_keys CASCADE" \
  >/dev/null 2>&1 || true
MAESTRO_DATABASE_URL="postgres://maestro_auth:maestro-auth-local@127.0.0.1:$port/maestro?sslmode=disable" "$bin/auth-bench"
