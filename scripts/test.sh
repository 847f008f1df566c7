#!/usr/bin/env bash
# The project's test command (README.md): the race-enabled test suite, with
# the cgo OpenSSL agreement tests, then every fuzz target for a bounded time.
#
#   FUZZTIME=20s (default) per fuzz target; FUZZTIME=0 skips fuzzing;
#   FUZZTIME=10m fuzzes longer, locally.
set -euo pipefail
cd "$(dirname "$0")/.."

go test -race -tags openssl ./...

fuzztime=${FUZZTIME:-20s}
if [ "$fuzztime" = 0 ]; then
  echo "fuzz: skipped (FUZZTIME=0)"
  exit 0
fi
targets=0
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $f for $fuzztime"
    go test -run '^$' -fuzz "^${f}\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s "$pkg"
    targets=$((targets + 1))
  done
done
if [ "$targets" -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz: $targets targets, $fuzztime each, no crasher"
