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
# stopped by its PID (scripts/lib.sh). scripts/install-deps.sh installs
# chromium and web/'s node modules.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

need_tools curl node
need_chromium
make_tmp browser
logs+=("$tmp/bridge.log")
build_binaries passkeyd demo-rp
make_hook uv
start_daemon passkeyd --ephemeral --uv "command:$tmp/uv.hook"
start_demo_rp

echo "passkeyd at $tmp/passkeyd/run/api.sock, demo-rp at $rp_url, $("$chromium_bin" --version 2>/dev/null || echo chromium)"
# node's own summary (tests, pass, fail, duration_ms) is the last output.
cd web
PASSKEYD_RUNTIME_DIR="$tmp/passkeyd/run" DEMO_RP_URL="$rp_url" PASSKEYD_E2E_DENY="$tmp/uv.deny" \
  PASSKEYD_E2E_SLOW="$tmp/uv.slow" PASSKEYD_E2E_LOG="$tmp/bridge.log" CHROMIUM="$chromium_bin" \
  timeout 300 node --test --test-reporter=spec e2e.test.mjs
