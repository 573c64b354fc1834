# shellcheck shell=bash
# What the interop scripts share, sourced after `cd` to the repository root:
#
#   set -euo pipefail
#   cd "$(dirname "$0")/.."
#   . scripts/lib.sh
#   make_tmp NAME               a private temporary directory, $tmp, and one EXIT trap
#   build_binaries passkeyd demo-rp
#   make_hook uv                a --uv command: hook at $tmp/uv.hook
#   start_daemon NAME ARGS...   passkeyd serve, ready when its sockets accept
#   start_demo_rp               sets $rp_url
#
# Every process is started in this shell and remembered by its PID; stop_all,
# the EXIT trap, stops the ones still running and keeps the script's exit
# status. When that status is not 0 it prints the end of every file in $logs.
set -euo pipefail

prog=$(basename "$0" .sh)
pids=()
logs=()

# die MESSAGE: the script's name, the message on stderr, exit 1.
die() {
  echo "$prog: $*" >&2
  exit 1
}

# need_tools TOOL...: each TOOL is on PATH.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool not found; run scripts/install-deps.sh"
  done
}

# need_chromium: sets $chromium_bin ($CHROMIUM or Debian's) and installs
# web/'s node modules when they are missing.
need_chromium() {
  chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
  [ -x "$chromium_bin" ] || die "$chromium_bin not found; run scripts/install-deps.sh"
  if [ ! -d web/node_modules/playwright-core ]; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# make_tmp NAME: sets $tmp to a new private directory and installs stop_all
# as the EXIT trap.
make_tmp() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/passkeyd-$1.XXXXXX")
  trap stop_all EXIT
}

# build_binaries NAME...: builds passkeyd (./cmd/passkeyd) and demo-rp
# (./examples/demo-rp) into $tmp/bin, which goes first on PATH.
build_binaries() {
  local name pkg
  for name in "$@"; do
    case $name in
      passkeyd) pkg=./cmd/passkeyd ;;
      demo-rp) pkg=./examples/demo-rp ;;
      *) die "build_binaries: unknown binary $name" ;;
    esac
    GOFLAGS="${GOFLAGS:-} -buildvcs=false" go build -o "$tmp/bin/$name" "$pkg" || exit
  done
  export PATH="$tmp/bin:$PATH"
}

# make_hook NAME [approve|deny|slow]: writes $tmp/NAME.hook, the test's
# stand-in for a person behind `--uv command:`. Each call appends
# OPERATION|RP_ID|USER_NAME to $tmp/NAME.hook.log and writes the hook's PID
# to $tmp/NAME.hook.pid; then it denies while $tmp/NAME.deny exists, takes
# 30 s while $tmp/NAME.slow exists, and approves. The mode creates the
# matching file; the script or the test may create and remove them later.
make_hook() {
  local hook="$tmp/$1" mode=${2:-approve}
  cat >"$hook.hook" <<EOF
#!/bin/sh
printf '%s|%s|%s\n' "\$PASSKEYD_UV_OPERATION" "\$PASSKEYD_UV_RP_ID" "\$PASSKEYD_UV_USER_NAME" >>"$hook.hook.log"
echo \$\$ >"$hook.hook.pid.tmp" && mv "$hook.hook.pid.tmp" "$hook.hook.pid"
[ -e "$hook.deny" ] && exit 1
[ -e "$hook.slow" ] && exec sleep 30
exit 0
EOF
  chmod 700 "$hook.hook"
  : >"$hook.hook.log"
  case $mode in
    approve) ;;
    deny | slow) : >"$hook.$mode" ;;
    *) die "make_hook: unknown mode $mode" ;;
  esac
}

# retry SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds;
# fails after SECONDS.
retry() {
  local tries=$(($1 * 10))
  shift
  for _ in $(seq "$tries"); do
    if "$@" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# wait_for COMMAND...: retries COMMAND for up to 15 s, else dies.
wait_for() {
  retry 15 "$@" || die "timed out waiting for: $*"
}

# sockets_accept DIR: ctaphid.sock and api.sock are in DIR and the daemon
# answers on api.sock, which it opens after ctaphid.sock.
sockets_accept() {
  [ -S "$1/ctaphid.sock" ] && [ -S "$1/api.sock" ] &&
    "$tmp/bin/passkeyd" status --runtime-dir "$1" >/dev/null
}

# start_daemon NAME ARGS...: `passkeyd serve ARGS...` in the background with
# its own $tmp/NAME/run and $tmp/NAME/state, logging to $tmp/NAME/passkeyd.log.
# Sets $daemon_pid once both sockets accept; dies if the daemon exits first or
# is not ready within 15 s.
start_daemon() {
  local name=$1 dir="$tmp/$1"
  shift
  mkdir -m 700 "$dir" "$dir/run" "$dir/state"
  logs+=("$dir/passkeyd.log")
  "$tmp/bin/passkeyd" serve --runtime-dir "$dir/run" --state-dir "$dir/state" "$@" 2>"$dir/passkeyd.log" &
  daemon_pid=$!
  pids+=("$daemon_pid")
  for _ in $(seq 150); do
    if sockets_accept "$dir/run" 2>/dev/null; then return 0; fi
    kill -0 "$daemon_pid" 2>/dev/null || die "passkeyd ($name) exited during start"
    sleep 0.1
  done
  die "passkeyd ($name) did not accept on its sockets within 15 s"
}

# start_demo_rp: demo-rp on a free localhost port; sets $rp_url once it answers.
start_demo_rp() {
  logs+=("$tmp/demo-rp.log")
  "$tmp/bin/demo-rp" -addr 127.0.0.1:0 >"$tmp/demo-rp.url" 2>"$tmp/demo-rp.log" &
  pids+=($!)
  wait_for test -s "$tmp/demo-rp.url"
  rp_url=$(head -n1 "$tmp/demo-rp.url")
  wait_for curl -fsS -o /dev/null "$rp_url/"
}

# stop PID: SIGTERM, then up to 10 s for the process to exit; returns its exit
# status and forgets it, or returns 124 and keeps it for stop_all when it is
# still running.
stop() {
  local pid=$1 rc=0 kept=() p
  kill -TERM "$pid" 2>/dev/null || true
  retry 10 gone "$pid" || return 124
  wait "$pid" || rc=$?
  for p in "${pids[@]}"; do
    [ "$p" = "$pid" ] || kept+=("$p")
  done
  pids=("${kept[@]}")
  return "$rc"
}

# gone PID: no process PID is left to signal.
gone() { ! kill -0 "$1"; }

# stop_all: the EXIT trap. SIGTERM to every process still running, SIGKILL to
# those that outlive 10 s; on failure the last 40 lines of each log; then $tmp
# goes and the script exits with its own status.
stop_all() {
  local status=$? pid log
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do stop "$pid" || true; done
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "${logs[@]}"; do
      [ -s "$log" ] && { echo "--- ${log#"$tmp"/}" >&2; tail -n 40 "$log" >&2; }
    done
  fi
  rm -rf "$tmp"
  exit "$status"
}
