#!/usr/bin/env bash
# Prints the path of a Python 3 that has grpcio, grpcio-tools and openapi-spec-validator,
# installing what is missing (idempotent): pip into the current python3 first; if that is not
# possible, Debian's python3-grpcio / python3-grpc-tools with a private venv for the validator.
# Used by `make test` (the interop client and the OpenAPI validation).
set -euo pipefail
cd "$(dirname "$0")/../.."

has() { "$1" -c 'import grpc, grpc_tools, openapi_spec_validator' >/dev/null 2>&1; }

for candidate in "${MAESTRO_TEST_PYTHON:-}" python3 .local/python-venv/bin/python /usr/bin/python3; do
  [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && has "$candidate" && { command -v "$candidate"; exit 0; }
done

if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check grpcio grpcio-tools openapi-spec-validator >&2 || true
  has python3 && { command -v python3; exit 0; }
fi

# Debian's packages, then a venv (system site packages visible) for the validator.
if ! /usr/bin/python3 -c 'import grpc, grpc_tools' >/dev/null 2>&1; then
  apt_get="apt-get"
  [ "$(id -u)" -ne 0 ] && apt_get="sudo apt-get"
  $apt_get install -y python3-grpcio python3-grpc-tools python3-venv python3-pip >&2 \
    || { $apt_get update >&2 && $apt_get install -y python3-grpcio python3-grpc-tools python3-venv python3-pip >&2; }
fi
if [ ! -x .local/python-venv/bin/python ]; then
  mkdir -p .local
  /usr/bin/python3 -m venv --system-site-packages .local/python-venv >&2
fi
.local/python-venv/bin/python -m pip install --quiet --disable-pip-version-check openapi-spec-validator >&2
has .local/python-venv/bin/python || { echo "python-env: no Python with grpcio, grpcio-tools and openapi-spec-validator" >&2; exit 1; }
echo "$(pwd)/.local/python-venv/bin/python"
