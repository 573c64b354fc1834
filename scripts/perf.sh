#!/usr/bin/env bash
# Regenerates every figure of docs/performance.md into docs/performance/:
#
#   provider-bench.txt   in-process GetAssertion/MakeCredential beside raw ECDSA
#   keystore-bench.txt   lookups at 1k/10k/100k beside a plain map, open, group commit,
#                        store GetAssertion/MakeCredential from 32 goroutines
#   tpm-bench.txt        signing with a TPM-sealed key against swtpm's own TPM2_Sign
#   daemon-bench.txt     socket vs in-process GetAssertion, PING, and the floor
#                        (a bare Unix-socket echo around one signature)
#   scaling-*.json       passkeyd bench against a daemon with 1k/10k/100k stored,
#                        1/2/8/32 clients, assertions and registrations
#   startup-*.json       ready time and resident memory with 1k/10k/100k stored
#   scaling.svg          drawn from the scaling JSON by internal/bench/cmd/plot
#
# It takes about 15 minutes. Run it on a machine doing nothing else:
# the figures are ratios against baselines measured in the same run, but a
# busy neighbour still moves them. Usage:
#
#   scripts/perf.sh              # everything
#   PERF_ONLY=go scripts/perf.sh # only the go test benchmarks
#   PERF_ONLY=load scripts/perf.sh # only passkeyd bench (scaling, start-up)
#   PERF_ONLY=daemon scripts/perf.sh # only the socket-vs-in-process rounds
#   PERF_SIZES="1" PERF_DURATION=1s PERF_ONLY=load scripts/perf.sh   # a quick try
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

only="${PERF_ONLY:-all}"
sizes="${PERF_SIZES:-1 10 100}" # thousands of stored credentials
duration="${PERF_DURATION:-5s}"
out=docs/performance
mkdir -p "$out"
make_tmp perf
build_binaries passkeyd
pk="$tmp/bin/passkeyd"
[ -x "$pk" ] || die "build_binaries did not leave $pk"

# gobench NAME ARGS...: go test benchmarks into $out/NAME.txt, with the
# machine's load before and after.
gobench() {
  local name=$1
  shift
  echo "-- go test $* > $out/$name.txt"
  {
    echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    go test -run '^$' "$@"
    echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$out/$name.txt"
}

# gobench_rounds NAME ROUNDS ARGS...: like gobench, but ROUNDS runs of
# every benchmark one after the other (-count 1 each time), so that paths
# compared with each other are measured in alternation, not minutes apart.
gobench_rounds() {
  local name=$1 rounds=$2
  shift 2
  echo "-- $rounds × go test $* > $out/$name.txt"
  {
    echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    for _ in $(seq "$rounds"); do
      go test -run '^$' -count 1 "$@"
    done
    echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$out/$name.txt"
}

if [ "$only" = daemon ]; then
  gobench_rounds daemon-bench 8 -bench 'GetAssertion|Ping|Floor' -benchtime 5000x ./internal/daemon
fi

if [ "$only" = all ] || [ "$only" = go ]; then
  gobench provider-bench -bench . -count 8 ./provider
  gobench keystore-bench -bench 'LookupByID|LookupByRP|Open|GroupCommit|GetAssertion|MakeCredential' -count 3 ./keystore
  gobench tpm-bench -bench TPMSign -count 5 ./keystore
  gobench_rounds daemon-bench 8 -bench 'GetAssertion|Ping|Floor' -benchtime 5000x ./internal/daemon
fi

if [ "$only" = all ] || [ "$only" = load ]; then
  for k in $sizes; do
    echo "-- filling a store with ${k}k credentials"
    "$pk" bench fill --state-dir "$tmp/fill-${k}k" --credentials "${k}000" >/dev/null
  done
  # measure SIZE KIND MIX: a daemon on a fresh copy of the SIZE store,
  # passkeyd bench with 1, 2, 8 and 32 clients.
  measure() {
    local state="$tmp/state-$1-$2" run="$tmp/run-$1-$2"
    cp -a "$tmp/fill-$1" "$state"
    mkdir -p "$run"
    "$pk" serve --state-dir "$state" --runtime-dir "$run" --uv approve --log-level error &
    local pid=$!
    until [ -S "$run/api.sock" ]; do sleep 0.05; done
    echo "-- passkeyd bench: $1 stored, $2"
    "$pk" bench --runtime-dir "$run" --clients 1,2,8,32 --mix "$3" --duration "$duration" --json >"$out/scaling-$1-$2.json"
    kill "$pid"
    wait "$pid"
    rm -rf "$state" "$run"
  }
  for k in $sizes; do
    k=${k}k
    measure "$k" getassertion 0
    measure "$k" makecredential 1
    echo "-- start-up with $k stored"
    cp -a "$tmp/fill-$k" "$tmp/start-$k"
    "$pk" bench startup --state-dir "$tmp/start-$k" --runs 5 --json >"$out/startup-$k.json"
  done
  go run ./internal/bench/cmd/plot -o "$out/scaling.svg" "$out"/scaling-*.json
fi
echo "-- done: $out"
