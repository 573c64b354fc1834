#!/usr/bin/env bash
# The shell example against a real relying party: builds passkeyd and
# examples/demo-rp, starts `passkeyd serve --ephemeral --uv command:HOOK`
# and demo-rp on localhost, and runs docs/examples/register-and-sign-in.sh
# (curl + passkeyd webauthn + jq). Then checks the refusals a script sees:
# a second passkey for the same account, a denied verification, and a
# daemon that is not running. Every process is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "interop-shell: $tool not found; run scripts/install-deps.sh" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/passkeyd-shell.XXXXXX")
pids=()
cleanup() {
  status=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    for log in passkeyd.log demo-rp.log; do
      [ -s "$tmp/$log" ] && { echo "--- $log" >&2; tail -n 30 "$tmp/$log" >&2; }
    done
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT

wait_for() {
  for _ in $(seq 150); do
    if "$@" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "interop-shell: timed out waiting for: $*" >&2
  return 1
}

go build -o "$tmp/bin/passkeyd" ./cmd/passkeyd
go build -o "$tmp/bin/demo-rp" ./examples/demo-rp
export PATH="$tmp/bin:$PATH" PASSKEYD_RUNTIME_DIR="$tmp/run" PASSKEYD_STATE_DIR="$tmp/state"

cat >"$tmp/uv-hook" <<EOF
#!/bin/sh
[ -e "$tmp/deny" ] && exit 1
exit 0
EOF
chmod 700 "$tmp/uv-hook"
mkdir -m 700 "$tmp/run" "$tmp/state"
passkeyd serve --ephemeral --uv "command:$tmp/uv-hook" 2>"$tmp/passkeyd.log" &
pids+=($!)
wait_for passkeyd status >/dev/null

demo-rp -addr 127.0.0.1:0 >"$tmp/demo-rp.url" 2>"$tmp/demo-rp.log" &
pids+=($!)
wait_for test -s "$tmp/demo-rp.url"
rp=$(head -n1 "$tmp/demo-rp.url")
wait_for curl -fsS -o /dev/null "$rp/"

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
  bash docs/examples/register-and-sign-in.sh "$rp" "$1" >"$tmp/example.out" 2>&1 || { cat "$tmp/example.out"; return 1; }
  cat "$tmp/example.out"
  grep -q "^registered $1: the server verified passkey " "$tmp/example.out" &&
    grep -q "^signed in as $1, signature counter 1$" "$tmp/example.out" &&
    grep -q "^GET /me: $1$" "$tmp/example.out"
}

# expect_refusal CODE KIND [USER]: passkeyd webauthn KIND exits 1 with CODE on stderr.
expect_refusal() {
  local code=$1 kind=$2 user=${3:-alice} opts rc=0
  if [ "$kind" = create ]; then
    opts=$(curl -fsS -H 'Content-Type: application/json' -d "{\"username\":\"$user\"}" "$rp/register/begin")
  else
    opts=$(curl -fsS -H 'Content-Type: application/json' -d '{}' "$rp/login/begin")
  fi
  printf '%s' "$opts" | passkeyd webauthn "$kind" --origin "$rp" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  cat "$tmp/stderr"
  [ "$rc" -eq 1 ] && [ ! -s "$tmp/stdout" ] && grep -q "^passkeyd: $code " "$tmp/stderr"
}

deny() { touch "$tmp/deny"; "$@"; local rc=$?; rm -f "$tmp/deny"; return $rc; }

check "register and sign in as alice (docs/examples/register-and-sign-in.sh)" example alice
check "register and sign in as bob" example bob
check "a second passkey for alice: credential_excluded, exit 1" expect_refusal credential_excluded create alice
check "a denied verification: not_allowed, exit 1" deny expect_refusal not_allowed get
check "a wrong origin: rp_id_mismatch" bash -c "curl -fsS -d '{}' '$rp/login/begin' | passkeyd webauthn get --origin https://example.org 2>&1 >/dev/null | grep -q '^passkeyd: rp_id_mismatch '"
check "no daemon: a clear message, exit 1" bash -c "echo '{}' | PASSKEYD_RUNTIME_DIR='$tmp/none' passkeyd webauthn get --origin '$rp' 2>&1 | grep -q 'passkeyd is not running'"

echo "interop-shell: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
