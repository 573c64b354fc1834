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
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

python=/usr/bin/python3 # pyenv's python3 on PATH has no fido2 module
"$python" -c 'import fido2' 2>/dev/null ||
  die "$python has no fido2 module; run scripts/install-deps.sh (Debian python3-fido2)"

make_tmp interop
echo "-- building passkeyd"
build_binaries passkeyd

# approve.hook approves and logs OPERATION|RP_ID|USER_NAME; slow.hook sleeps
# until CANCEL ends it (make_hook in scripts/lib.sh).
make_hook approve
make_hook slow slow
aaguid=7061736b-6579-642d-696e-7465726f7021
# start NAME: a daemon with a file keystore and the hook NAME; sets $daemon_pid.
start() {
  start_daemon "$1" --keystore file --uv "command:$tmp/$1.hook" --aaguid "$aaguid" --log-level debug
}
start approve
approve_pid=$daemon_pid
start slow
slow_pid=$daemon_pid
echo "-- passkeyd running: approve (pid $approve_pid), slow (pid $slow_pid)"

# check_stop NAME PID: SIGTERM, then the daemon must exit 0 within 10 s,
# having logged a clean stop. Prints a PASS or FAIL line like the python cases.
check_stop() {
  local name=$1 pid=$2 rc=0 case="passkeyd ($1) stops on SIGTERM, exit 0"
  stop "$pid" || rc=$?
  if [ "$rc" -eq 124 ]; then
    printf 'FAIL %-44s still running 10 s after SIGTERM\n' "$case"
    return 1
  fi
  if [ "$rc" -ne 0 ]; then
    printf 'FAIL %-44s exit %d\n' "$case" "$rc"
    return 1
  fi
  if ! grep -q 'passkeyd stopped' "$tmp/$name/passkeyd.log"; then
    printf 'FAIL %-44s no "passkeyd stopped" in its log\n' "$case"
    return 1
  fi
  printf 'PASS %s\n' "$case"
}

rc=0
"$python" test/python/interop.py --socket "$tmp/approve/run/ctaphid.sock" \
  --slow-socket "$tmp/slow/run/ctaphid.sock" --slow-hook-pid "$tmp/slow.hook.pid" \
  --hook-log "$tmp/approve.hook.log" --aaguid "$aaguid" | tee "$tmp/python.out" || rc=$?

# The python summary, then the daemons' exits as two more cases. When
# anything failed, stop_all prints the end of each daemon's log.
summary=$(tail -n 1 "$tmp/python.out")
if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
  passed=${BASH_REMATCH[1]} failed=${BASH_REMATCH[2]}
else
  passed=0 failed=1 rc=1
fi
for name in approve slow; do
  pid_var=${name}_pid
  if check_stop "$name" "${!pid_var}"; then passed=$((passed + 1)); else failed=$((failed + 1)) rc=1; fi
done
echo "$passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
