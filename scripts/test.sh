#!/usr/bin/env bash
# Set up and run the whole test suite. Tests start their own throwaway PostgreSQL and
# SeaweedFS (S3) servers on 127.0.0.1; this installs the PostgreSQL binaries when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh dev
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "warning: PostgreSQL server binaries not found; PostgreSQL tests will skip" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
