#!/usr/bin/env bash
# Events: watch what the provider does while a test runs: credentials
# added, asserted, updated and deleted, each verification asked and each
# fault injected, one JSON object per line.
# Usage: RP=http://localhost:8080 events.sh [USERNAME]
source "$(dirname "$0")/helpers.sh"
user=${1:-events-user}
events=$(mktemp)

# Five events: verification, credential-added, fault-injected,
# verification, credential-asserted. The first line says it is listening.
passkeyd test watch --count 5 >"$events" &
watcher=$!
until [ -s "$events" ]; do sleep 0.1; done

register "$user" >/dev/null
passkeyd test fault delay --op get --delay 200ms
sign_in >/dev/null
wait "$watcher"

jq -c '{type, operation, outcome, fault, userName, signCount} | with_entries(select(.value != null))' "$events"
rm -f "$events"
