#!/usr/bin/env bash
# Set up and run the whole test suite. Tests start their own throwaway PostgreSQL and
# SeaweedFS (S3) servers on 127.0.0.1; this installs the PostgreSQL binaries, Chromium (for
# the HTML report tests, driven by Playwright; never `playwright install`), buildah and
# mmdebstrap (the container image tests) when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh dev
missing=()
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
command -v chromium >/dev/null || missing+=(chromium)
# The image tests build with buildah on a Debian base made by mmdebstrap (no registry here).
# Installed with their recommended packages (fuse-overlayfs, uidmap, gpg, …).
with_recommends=()
command -v buildah >/dev/null || with_recommends+=(buildah)
command -v mmdebstrap >/dev/null || with_recommends+=(mmdebstrap)
# LightGBM's wheel links the system's OpenMP runtime.
ldconfig -p 2>/dev/null | grep -q 'libgomp.so.1 ' || missing+=(libgomp1)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: ${missing[*]} not found; the tests that need them will skip" >&2
  fi
fi
if [ ${#with_recommends[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq "${with_recommends[@]}" >/dev/null
  else
    echo "warning: ${with_recommends[*]} not found; the image tests will skip" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
