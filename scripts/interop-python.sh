#!/usr/bin/env bash
# Interop with python-fido2 (Debian python3-fido2 0.9.1), an independent
# CTAP 2.1 client doing its own CTAPHID framing over ctaphid.sock.
#
# It starts two daemons the way a user starts one (passkeyd serve, file
# keystore, temporary state and runtime directories):
#   - one whose --uv command: hook approves and logs every request;
#   - one whose hook sleeps, for CANCEL during a slow verification;
# runs test/python/interop.py against both, then stops each daemon by its PID
# with SIGTERM and checks that it exits 0. scripts/test.sh runs this file;
# scripts/install-deps.sh installs python3-fido2.
set -euo pipefail
cd "$(dirname "$0")/.."

python=/usr/bin/python3 # pyenv's python3 on PATH has no fido2 module
if ! "$python" -c 'import fido2' 2>/dev/null; then
  echo "interop-python: $python has no fido2 module; run scripts/install-deps.sh (Debian python3-fido2)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/passkeyd-interop.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

echo "-- building passkeyd"
GOFLAGS="${GOFLAGS:-} -buildvcs=false" go build -o "$work/passkeyd" ./cmd/passkeyd

# The hooks get the request in PASSKEYD_UV_* variables; exit 0 approves.
cat >"$work/approve-hook" <<EOF
#!/bin/sh
printf '%s|%s|%s\n' "\$PASSKEYD_UV_OPERATION" "\$PASSKEYD_UV_RP_ID" "\$PASSKEYD_UV_USER_NAME" >>"$work/approve.hook.log"
exit 0
EOF
cat >"$work/slow-hook" <<EOF
#!/bin/sh
echo \$\$ >"$work/slow.pid.tmp" && mv "$work/slow.pid.tmp" "$work/slow.pid"
exec sleep 60
EOF
chmod 0755 "$work/approve-hook" "$work/slow-hook"
: >"$work/approve.hook.log"

aaguid=7061736b-6579-642d-696e-7465726f7021

# start NAME HOOK: passkeyd serve in the background; sets $pid once both
# sockets accept connections.
start() {
  local name=$1 hook=$2
  "$work/passkeyd" serve --state-dir "$work/$name/state" --runtime-dir "$work/$name/run" \
    --keystore file --uv "command:$hook" --aaguid "$aaguid" --log-level debug \
    2>"$work/$name.daemon.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    if "$python" - "$work/$name/run" <<'EOF' 2>/dev/null; then return 0; fi
import socket, sys
for name in ("ctaphid.sock", "api.sock"):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1] + "/" + name)
    s.close()
EOF
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "interop-python: passkeyd ($name) exited during start:" >&2
      cat "$work/$name.daemon.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "interop-python: passkeyd ($name) did not accept on its sockets within 10 s" >&2
  cat "$work/$name.daemon.log" >&2
  exit 1
}

# stop NAME PID: SIGTERM, then the daemon must exit 0 within 10 s, having
# logged a clean stop. Prints a PASS or FAIL line like the python cases.
stop() {
  local name=$1 pid=$2 rc=0 case="passkeyd ($name) stops on SIGTERM, exit 0"
  kill -TERM "$pid"
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    printf 'FAIL %-44s still running 10 s after SIGTERM\n' "$case"
    return 1
  fi
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    printf 'FAIL %-44s exit %d\n' "$case" "$rc"
    return 1
  fi
  if ! grep -q 'passkeyd stopped' "$work/$name.daemon.log"; then
    printf 'FAIL %-44s no "passkeyd stopped" in its log\n' "$case"
    return 1
  fi
  printf 'PASS %s\n' "$case"
}

start approve "$work/approve-hook"
approve_pid=$pid
start slow "$work/slow-hook"
slow_pid=$pid
echo "-- passkeyd running: approve (pid $approve_pid), slow (pid $slow_pid)"

rc=0
"$python" test/python/interop.py --socket "$work/approve/run/ctaphid.sock" \
  --slow-socket "$work/slow/run/ctaphid.sock" --slow-hook-pid "$work/slow.pid" \
  --hook-log "$work/approve.hook.log" --aaguid "$aaguid" | tee "$work/python.out" || rc=$?

# The python summary, then the daemons' exits as two more cases.
summary=$(tail -n 1 "$work/python.out")
if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
  passed=${BASH_REMATCH[1]} failed=${BASH_REMATCH[2]}
else
  passed=0 failed=1 rc=1
fi
for name in approve slow; do
  pid_var=${name}_pid
  if stop "$name" "${!pid_var}"; then passed=$((passed + 1)); else failed=$((failed + 1)) rc=1; fi
done
if [ "$rc" -ne 0 ]; then
  for name in approve slow; do
    echo "-- passkeyd ($name) log, last 40 lines"
    tail -n 40 "$work/$name.daemon.log"
  done
fi
echo "$passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
