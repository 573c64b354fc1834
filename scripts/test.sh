#!/usr/bin/env bash
# The whole test suite: static checks, unit and integration tests with the
# race detector, a short run of every fuzz target, and the interop tests
# against python-fido2 and Chromium. scripts/install-deps.sh installs what
# they need; README.md names this script.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
fuzztime="${FUZZTIME:-3s}"

step() { printf '\n== %s\n' "$*"; }

if [ -z "${PASSKEYD_SKIP_INSTALL:-}" ]; then
  step "installing test dependencies (set PASSKEYD_SKIP_INSTALL=1 to skip)"
  bash scripts/install-deps.sh
fi

step "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
go vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "go test -race ./..."
go test -race -timeout 20m ./...

step "TPM tests on the in-process simulator too (build tag tpmsim: cgo, gcc and libssl-dev)"
go test -race -tags tpmsim -run TPM ./keystore/

# fuzz_once runs one target. Go's fuzzer can end a short run with "context
# deadline exceeded" when it is still minimizing a new input as the time runs
# out; only that message earns one retry. A real failure writes its input to
# testdata/fuzz and fails at once.
fuzz_once() {
  local log; log=$(mktemp)
  if go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" -fuzzminimizetime 10x "$1" >"$log" 2>&1; then
    rm -f "$log"; return 0
  fi
  if [ -z "${3:-}" ] && grep -q "context deadline exceeded" "$log" && ! grep -q "Failing input written" "$log"; then
    echo "   (the fuzzer overran its time while minimizing; running $2 again)"
    rm -f "$log"; return 1
  fi
  cat "$log"; rm -f "$log"; exit 1
}

step "fuzz targets, $fuzztime each"
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "-- $pkg $target"
    fuzz_once "$pkg" "$target" || fuzz_once "$pkg" "$target" retry
  done
done

for t in scripts/interop-*.sh; do
  [ -e "$t" ] || continue
  step "$t"
  bash "$t"
done
step "all tests passed"
