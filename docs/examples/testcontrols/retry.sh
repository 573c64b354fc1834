#!/usr/bin/env bash
# Retry after failure: the provider refuses one registration
# (OPERATION_DENIED, what a browser reports as NotAllowedError); the page
# must offer "Try again", and the second attempt must succeed.
# Usage: RP=http://localhost:8080 retry.sh [USERNAME]
source "$(dirname "$0")/helpers.sh"
user=${1:-retry-user}

passkeyd test fault status --op create --status OPERATION_DENIED

echo "== first attempt: refused"
if register "$user"; then
  echo "the injected fault did not refuse the registration" >&2
  exit 1
fi # stderr: passkeyd: not_allowed (NotAllowedError): the user did not allow it (...)

echo "== try again: registered"
register "$user" | jq -e -r 'select(.ok) | "registered \(.username)"'
passkeyd test faults # the fault was used up: No faults queued.
