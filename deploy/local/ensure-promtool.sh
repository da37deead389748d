#!/usr/bin/env bash
# Installs promtool (Debian's prometheus package) when it is missing; used by `make test` for the
# Prometheus rules tests. Idempotent. The package's daemon is not needed: if the install started
# it, it is stopped again (its port 9090 is the local suite's gateway gRPC port).
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then exit 0; fi
echo "installing promtool (Debian package prometheus)" >&2
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if command -v service >/dev/null 2>&1; then $sudo_cmd service prometheus stop >/dev/null 2>&1 || true; fi
command -v promtool >/dev/null
