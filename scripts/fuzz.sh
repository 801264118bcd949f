#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 30s).
# `go test` already runs each target's seed corpus; this explores beyond it.
# A failing input is written under the package's testdata/fuzz/ by Go:
# commit it with the fix so it stays in the seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-30s}"
go="${GO:-go}"
status=0
while IFS= read -r file; do
  pkg="./$(dirname "$file")"
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/'); do
    echo "fuzz: $pkg $target for $fuzztime"
    if ! "$go" test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/warden-fuzz.$$ 2>&1; then
      cat /tmp/warden-fuzz.$$ >&2
      status=1
    fi
  done
done < <(grep -rlE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' --include='*_test.go' . | grep -v '^./\.data/' | sed 's|^\./||' | sort)
rm -f /tmp/warden-fuzz.$$
exit $status
