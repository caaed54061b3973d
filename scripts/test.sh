#!/usr/bin/env bash
# Set up and run the whole test suite. Tests start their own throwaway PostgreSQL and
# SeaweedFS (S3) servers on 127.0.0.1; this installs the PostgreSQL binaries and Chromium (for
# the HTML report tests, driven by Playwright; never `playwright install`) when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh dev
missing=()
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
command -v chromium >/dev/null || missing+=(chromium)
# LightGBM's wheel links the system's OpenMP runtime.
ldconfig -p 2>/dev/null | grep -q 'libgomp.so.1 ' || missing+=(libgomp1)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: ${missing[*]} not found; the tests that need them will skip" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
