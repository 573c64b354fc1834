#!/usr/bin/env bash
# The shell example against a real relying party: builds passkeyd and
# examples/demo-rp, starts `passkeyd serve --ephemeral --uv command:HOOK`
# and demo-rp on localhost, and runs docs/examples/register-and-sign-in.sh
# (curl + passkeyd webauthn + jq). Then checks the refusals a script sees:
# a second passkey for the same account, a denied verification, and a
# daemon that is not running. Every process is stopped by its PID
# (scripts/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

need_tools curl jq
make_tmp shell
build_binaries passkeyd demo-rp
make_hook uv
start_daemon passkeyd --ephemeral --uv "command:$tmp/uv.hook"
export PASSKEYD_RUNTIME_DIR="$tmp/passkeyd/run" PASSKEYD_STATE_DIR="$tmp/passkeyd/state"
start_demo_rp

passed=0 failed=0
check() { # check NAME COMMAND...: run a check, count it
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$tmp/out"
  fi
}

example() {
  bash docs/examples/register-and-sign-in.sh "$rp_url" "$1" >"$tmp/example.out" 2>&1 || { cat "$tmp/example.out"; return 1; }
  cat "$tmp/example.out"
  grep -q "^registered $1: the server verified passkey " "$tmp/example.out" &&
    grep -q "^signed in as $1, signature counter 1$" "$tmp/example.out" &&
    grep -q "^GET /me: $1$" "$tmp/example.out"
}

# expect_refusal CODE KIND [USER]: passkeyd webauthn KIND exits 1 with CODE on stderr.
expect_refusal() {
  local code=$1 kind=$2 user=${3:-alice} opts rc=0
  if [ "$kind" = create ]; then
    opts=$(curl -fsS -H 'Content-Type: application/json' -d "{\"username\":\"$user\"}" "$rp_url/register/begin")
  else
    opts=$(curl -fsS -H 'Content-Type: application/json' -d '{}' "$rp_url/login/begin")
  fi
  printf '%s' "$opts" | passkeyd webauthn "$kind" --origin "$rp_url" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  cat "$tmp/stderr"
  [ "$rc" -eq 1 ] && [ ! -s "$tmp/stdout" ] && grep -q "^passkeyd: $code " "$tmp/stderr"
}

deny() { touch "$tmp/uv.deny"; "$@"; local rc=$?; rm -f "$tmp/uv.deny"; return $rc; }

check "register and sign in as alice (docs/examples/register-and-sign-in.sh)" example alice
check "register and sign in as bob" example bob
check "a second passkey for alice: credential_excluded, exit 1" expect_refusal credential_excluded create alice
check "a denied verification: not_allowed, exit 1" deny expect_refusal not_allowed get
check "a wrong origin: rp_id_mismatch" bash -c "curl -fsS -d '{}' '$rp_url/login/begin' | passkeyd webauthn get --origin https://example.org 2>&1 >/dev/null | grep -q '^passkeyd: rp_id_mismatch '"
check "no daemon: a clear message, exit 1" bash -c "echo '{}' | PASSKEYD_RUNTIME_DIR='$tmp/none' passkeyd webauthn get --origin '$rp_url' 2>&1 | grep -q 'passkeyd is not running'"

echo "interop-shell: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
