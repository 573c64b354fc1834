#!/usr/bin/env bash
# Register a passkey and sign in with it at a relying party, from the shell:
# curl fetches the options and posts the answers, `passkeyd webauthn` plays
# the browser, jq checks the results. A cookie jar keeps the relying
# party's session between each begin and its finish.
#
# Usage: register-and-sign-in.sh RP_URL [USERNAME]
#
#   RP_URL     the relying party, e.g. http://localhost:8080 from
#              `go run ./examples/demo-rp -addr 127.0.0.1:8080`
#   USERNAME   the account to register (default alice)
#
# A passkeyd daemon must be running (passkeyd serve); PASSKEYD_RUNTIME_DIR
# names its runtime directory if it is not the default. The endpoints are
# demo-rp's: POST /register/begin|finish, /login/begin|finish, GET /me.
set -euo pipefail

rp=${1:?usage: register-and-sign-in.sh RP_URL [USERNAME]}
user=${2:-alice}
origin=$rp # the page's origin: demo-rp serves its page at the root

jar=$(mktemp)
trap 'rm -f "$jar"' EXIT

# post PATH: POST stdin as JSON to the relying party, inside the session.
post() {
  curl --silent --show-error --fail-with-body -b "$jar" -c "$jar" \
    -H 'Content-Type: application/json' --data-binary @- "$rp$1"
}

echo "== register $user at $rp"
jq -n --arg u "$user" '{username: $u}' | post /register/begin \
  | passkeyd webauthn create --origin "$origin" \
  | post /register/finish \
  | jq -e --arg u "$user" 'select(.ok == true and .username == $u)
      | "registered \(.username): the server verified passkey \(.credentialId)"' -r

echo "== sign in (discoverable: the passkey names the account)"
echo '{}' | post /login/begin \
  | passkeyd webauthn get --origin "$origin" \
  | post /login/finish \
  | jq -e --arg u "$user" 'select(.ok == true and .username == $u)
      | "signed in as \(.username), signature counter \(.counter)"' -r

echo "== the session is signed in"
curl --silent --show-error --fail-with-body -b "$jar" "$rp/me" \
  | jq -e --arg u "$user" 'select(.username == $u) | "GET /me: \(.username)"' -r
