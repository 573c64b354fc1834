#!/usr/bin/env bash
# Cloned-authenticator detection by counter: a signature counter that does
# not go up is the sign of a cloned authenticator (WebAuthn §6.1.1). The
# relying party must notice it; go-webauthn sets CloneWarning and keeps the
# counter it had, so demo-rp reports the old value.
# Usage: RP=http://localhost:8080 counter.sh [USERNAME]
source "$(dirname "$0")/helpers.sh"
user=${1:-counter-user}

register "$user" >/dev/null
sign_in | jq -r '"signed in, the relying party stored counter \(.counter)"'
flags

echo "== a counter below the last one"
passkeyd test fault counter-lowered --op get
sign_in | jq -r '"signed in, the relying party still has counter \(.counter)"'
flags # the authenticator reported a lower counter: a clone warning

echo "== counters may jump forward"
id=$(jq -r .id "$assertion")
passkeyd test props "$id" --sign-count 1000
sign_in | jq -r '"signed in, counter \(.counter)"'
