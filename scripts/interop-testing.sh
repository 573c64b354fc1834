#!/usr/bin/env bash
# The recipes of docs/testing.md, run as a QA engineer runs them: builds
# passkeyd and examples/demo-rp, starts
#
#   passkeyd serve --ephemeral --uv approve --test-controls                   (device-bound)
#   passkeyd serve --ephemeral --uv approve --test-controls --profile synced
#
# and demo-rp on localhost, runs every shell recipe in
# docs/examples/testcontrols/ and checks what it printed, then runs the
# Playwright recipes (web/testctl.test.mjs) against Debian's Chromium.
# Every process is stopped by its PID (scripts/lib.sh).
# scripts/install-deps.sh installs curl, jq, chromium and web/'s node modules.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

need_tools curl jq node
need_chromium
make_tmp testing
build_binaries passkeyd demo-rp
start_daemon device-bound --ephemeral --uv approve --test-controls
start_daemon synced --ephemeral --uv approve --test-controls --profile synced
synced_run="$tmp/synced/run"
export PASSKEYD_RUNTIME_DIR="$tmp/device-bound/run" PASSKEYD_STATE_DIR="$tmp/device-bound/state"
start_demo_rp
export RP=$rp_url
echo "passkeyd at $PASSKEYD_RUNTIME_DIR (device-bound) and $synced_run (synced), demo-rp at $RP"

passed=0 failed=0
# recipe NAME [ENV=VALUE...] -- LINE...: run docs/examples/testcontrols/NAME.sh
# and check that its output (stdout and stderr) has every LINE, in order.
recipe() {
  local name=$1 want rc=0
  shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" bash "docs/examples/testcontrols/$name.sh" >"$tmp/out" 2>&1 || rc=$?
  local missing=()
  local from=1
  for want in "$@"; do
    local at
    at=$(tail -n +"$from" "$tmp/out" | grep -n -F -x -m1 -- "$want" | cut -d: -f1) || true
    if [ -z "$at" ]; then missing+=("$want"); else from=$((from + at)); fi
  done
  local label="$name.sh${envs[*]:+ (${envs[*]})}"
  if [ "$rc" -eq 0 ] && [ "${#missing[@]}" -eq 0 ]; then
    passed=$((passed + 1)); echo "ok   $label"
  else
    failed=$((failed + 1)); echo "FAIL $label, exit $rc"
    sed 's/^/     | /' "$tmp/out"
    for want in "${missing[@]}"; do echo "     missing: $want"; done
  fi
}

not_allowed_denied='passkeyd: not_allowed (NotAllowedError): the user did not allow it (ctap: CTAP2_ERR_OPERATION_DENIED: injected fault)'
recipe retry -- \
  'Fault 1 queued: status CTAP2_ERR_OPERATION_DENIED for the next 1 create operation(s).' \
  '== first attempt: refused' "$not_allowed_denied" \
  '== try again: registered' 'registered retry-user' 'No faults queued.'
recipe counter -- \
  'signed in, the relying party stored counter 1' 'UP=1 UV=1 BE=0 BS=0 counter=1' \
  'signed in, the relying party still has counter 1' 'UP=1 UV=1 BE=0 BS=0 counter=0' \
  'signed in, counter 1001'
recipe uv -- \
  '== the user declines' \
  'passkeyd: not_allowed (NotAllowedError): the user did not allow it (ctap: CTAP2_ERR_OPERATION_DENIED: user verification: userverify: denied by the user)' \
  'signed in as uv-user' 'UP=1 UV=0 BE=0 BS=0 counter=1' \
  '== verified again' 'UP=1 UV=1 BE=0 BS=0 counter=2'
recipe events -- \
  '{"type":"subscribed"}' \
  '{"type":"verification","operation":"make-credential","outcome":"verified","userName":"events-user"}' \
  '{"type":"credential-added","userName":"events-user"}' \
  '{"type":"fault-injected","operation":"get","fault":"delay"}' \
  '{"type":"verification","operation":"get-assertion","outcome":"verified"}' \
  '{"type":"credential-asserted","userName":"events-user","signCount":1}'
recipe synced -- '== profile device-bound' 'UP=1 UV=1 BE=0 BS=0 counter=1'
recipe synced PASSKEYD_RUNTIME_DIR="$synced_run" -- \
  '== profile synced' 'UP=1 UV=1 BE=1 BS=1 counter=0' \
  'UP=1 UV=1 BE=1 BS=0 counter=0' \
  '{"error":"sign-in not verified: Backup Eligible flag inconsistency detected during login validation"}'

echo "interop-testing: shell recipes: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

echo "== Playwright recipes (web/testctl.test.mjs), $("$chromium_bin" --version 2>/dev/null || echo chromium)"
cd web
PASSKEYD_SYNCED_RUNTIME_DIR="$synced_run" DEMO_RP_URL="$RP" CHROMIUM="$chromium_bin" \
  timeout 300 node --test --test-reporter=spec testctl.test.mjs
