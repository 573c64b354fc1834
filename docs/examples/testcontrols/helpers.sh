# helpers.sh: what the shell recipes share. Source it with RP set to the
# relying party's URL (examples/demo-rp). A passkeyd daemon started with
# --test-controls must be running; PASSKEYD_RUNTIME_DIR names its runtime
# directory if it is not the default.
set -euo pipefail
: "${RP:?set RP to the relying party, e.g. http://localhost:8080}"

# The relying party's session cookie, and the last sign-in's assertion.
jar=$(mktemp)
assertion=$(mktemp)
trap 'rm -f "$jar" "$assertion"' EXIT

# post PATH: POST stdin as JSON to the relying party, inside the session.
post() {
  curl --silent --show-error --fail-with-body -b "$jar" -c "$jar" \
    -H 'Content-Type: application/json' --data-binary @- "$RP$1"
}

# register USER: register a passkey; prints the relying party's answer.
# When passkeyd refuses, its one-line error is on stderr and nothing is
# sent to the relying party.
register() {
  local credential
  credential=$(jq -n --arg u "$1" '{username: $u}' | post /register/begin \
    | passkeyd webauthn create --origin "$RP") || return
  post /register/finish <<<"$credential"
}

# sign_in: a discoverable sign-in; prints the relying party's answer and
# keeps the assertion in $assertion.
sign_in() {
  echo '{}' | post /login/begin | passkeyd webauthn get --origin "$RP" >"$assertion" || return
  post /login/finish <"$assertion"
}

# flags: what the last assertion's authenticatorData says: its flags and
# the signature counter (WebAuthn §6.1: rpIdHash[32] flags[1] counter[4]).
flags() {
  local s
  s=$(jq -r .response.authenticatorData "$assertion" | tr '_-' '/+')
  while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
  printf '%s' "$s" | base64 -d | od -An -tu1 -j32 -N5 | awk '{
    f = $1; printf "UP=%d UV=%d BE=%d BS=%d counter=%d\n", f % 2, int(f / 4) % 2,
      int(f / 8) % 2, int(f / 16) % 2, (($2 * 256 + $3) * 256 + $4) * 256 + $5 }'
}
