#!/usr/bin/env bash
# Runs every Go fuzz target in the repository, one after the other, for
# DURATION each (default 1m; any value go test -fuzztime takes: 30s, 10m,
# 5000x). A crasher is saved by go test under the package's
# testdata/fuzz/FuzzName/; at the end the script lists the crashers that
# this campaign added and exits non-zero if a target failed. Commit a
# crasher, once it is fixed, as a regression test: go test runs every file
# under testdata/fuzz as a seed.
#
#   scripts/fuzz.sh            # 1 minute per target
#   scripts/fuzz.sh 10m        # a longer campaign
#   FUZZ_MATCH=Credman scripts/fuzz.sh 30s   # only targets whose name matches
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
duration="${1:-1m}"
match="${FUZZ_MATCH:-.}"

corpus_files() { find . -path '*/testdata/fuzz/Fuzz*/*' -type f 2>/dev/null | sort; }

before=$(mktemp)
log=$(mktemp)
trap 'rm -f "$before" "$log"' EXIT
corpus_files >"$before"

failed=()
count=0
for pkg in $(go list ./...); do
  if ! listed=$(go test -list '^Fuzz' "$pkg" 2>&1); then
    echo "cannot list the fuzz targets of $pkg: its tests do not build"
    echo "$listed" | sed -n '1,20p' | sed 's/^/    /'
    failed+=("$pkg (tests do not build)")
    continue
  fi
  targets=$(echo "$listed" | grep '^Fuzz' | grep -E -- "$match" || true)
  for target in $targets; do
    count=$((count + 1))
    printf '%s %s %s ... ' "$(date -u +%H:%M:%S)" "${pkg#github.com/passkeyd/passkeyd/}" "$target"
    if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" "$pkg" >"$log" 2>&1; then
      grep -Eo 'elapsed: [^,]+, execs: [0-9]+' "$log" | tail -n 1 || echo ok
    else
      echo FAILED
      grep -v '^fuzz: elapsed' "$log" | tail -n 40 | sed 's/^/    /'
      failed+=("$pkg $target")
    fi
  done
done

new=$(comm -13 "$before" <(corpus_files) || true)
echo
echo "$count fuzz targets, $duration each."
if [ -n "$new" ]; then
  echo "New crashers (turn each into a regression test and commit it):"
  echo "$new" | sed 's/^/  /'
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "Failed targets:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
[ -z "$new" ] || exit 1
echo "No crashers."
