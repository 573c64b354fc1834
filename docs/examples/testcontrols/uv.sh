#!/usr/bin/env bash
# UV required: a relying party that asks for userVerification "required"
# must refuse an assertion without the UV flag. Two ways it goes wrong:
# the user says no (the request fails), or the authenticator answers
# without verifying (uv-cleared: the signature is valid, the UV flag is 0).
# demo-rp asks for "preferred", so it accepts the second; the flags show
# what a relying party that requires UV must check.
# Usage: RP=http://localhost:8080 uv.sh [USERNAME]
source "$(dirname "$0")/helpers.sh"
user=${1:-uv-user}

register "$user" >/dev/null

echo "== the user declines"
passkeyd test uv denied --count 1
if sign_in; then
  echo "a denied verification signed in" >&2
  exit 1
fi # stderr: passkeyd: not_allowed (NotAllowedError): ...

echo "== an assertion without UV"
passkeyd test fault uv-cleared --op get
sign_in | jq -r '"signed in as \(.username)"'
flags # UV=0: with userVerification "required", the relying party must refuse

echo "== verified again"
sign_in >/dev/null
flags
