#!/usr/bin/env bash
# End-to-end interop with a real browser: Debian Chromium driven by
# playwright-core (web/e2e.test.mjs), the passkeyd shim injected, the demo
# relying party (examples/demo-rp, go-webauthn) on localhost, and the daemon
# started the way a user starts it:
#
#   passkeyd serve --ephemeral --uv command:HOOK
#
# where HOOK approves unless a "deny" file exists (and is slow while a "slow"
# file exists), so the test can flip user verification. Every process is
# stopped by its PID. scripts/install-deps.sh installs chromium and web/'s
# node modules.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium_bin" ] || { echo "interop-browser: $chromium_bin not found; run scripts/install-deps.sh" >&2; exit 1; }
command -v node >/dev/null || { echo "interop-browser: node not found" >&2; exit 1; }
if [ ! -d web/node_modules/playwright-core ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/passkeyd-browser.XXXXXX")
pids=()
cleanup() {
  status=$?
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in passkeyd.log demo-rp.log bridge.log; do
      [ -s "$tmp/$log" ] && { echo "--- $log" >&2; tail -n 40 "$tmp/$log" >&2; }
    done
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT

# wait_for TEST... retries a test for up to 15 s.
wait_for() {
  for _ in $(seq 150); do
    if "$@" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "interop-browser: timed out waiting for: $*" >&2
  return 1
}

go build -o "$tmp/bin/passkeyd" ./cmd/passkeyd
go build -o "$tmp/bin/demo-rp" ./examples/demo-rp

cat >"$tmp/uv-hook" <<EOF
#!/bin/sh
# The test's stand-in for a person: approve, unless told to deny or dawdle.
[ -e "$tmp/deny" ] && exit 1
[ -e "$tmp/slow" ] && sleep 30
exit 0
EOF
chmod 700 "$tmp/uv-hook"

mkdir -m 700 "$tmp/run" "$tmp/state"
"$tmp/bin/passkeyd" serve --ephemeral --uv "command:$tmp/uv-hook" \
  --runtime-dir "$tmp/run" --state-dir "$tmp/state" 2>"$tmp/passkeyd.log" &
pids+=($!)
wait_for "$tmp/bin/passkeyd" status --runtime-dir "$tmp/run" >/dev/null

"$tmp/bin/demo-rp" -addr 127.0.0.1:0 >"$tmp/demo-rp.url" 2>"$tmp/demo-rp.log" &
pids+=($!)
wait_for test -s "$tmp/demo-rp.url"
rp_url=$(head -n1 "$tmp/demo-rp.url")
wait_for curl -fsS -o /dev/null "$rp_url/"

echo "passkeyd at $tmp/run/api.sock, demo-rp at $rp_url, $("$chromium_bin" --version 2>/dev/null || echo chromium)"
# node's own summary (tests, pass, fail, duration_ms) is the last output.
cd web
PASSKEYD_RUNTIME_DIR="$tmp/run" DEMO_RP_URL="$rp_url" PASSKEYD_E2E_DENY="$tmp/deny" \
  PASSKEYD_E2E_SLOW="$tmp/slow" PASSKEYD_E2E_LOG="$tmp/bridge.log" CHROMIUM="$chromium_bin" \
  timeout 300 node --test --test-reporter=spec e2e.test.mjs
