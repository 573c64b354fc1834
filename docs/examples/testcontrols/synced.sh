#!/usr/bin/env bash
# Synced vs device-bound: the backup flags a relying party sees. Start the
# daemon with --profile synced for a synced passkey (BE=1 BS=1, counter
# always 0), or --profile device-bound (the default: BE=0 BS=0, counting).
# Usage: RP=http://localhost:8080 synced.sh [USERNAME]
source "$(dirname "$0")/helpers.sh"
user=${1:-synced-user}

profile=$(passkeyd status --json | jq -r .profile)
echo "== profile $profile"
register "$user" >/dev/null
sign_in >/dev/null
flags
id=$(jq -r .id "$assertion")

if [ "$profile" = synced ]; then
  echo "== the backup is gone (BS=0): the relying party may ask for a second factor"
  passkeyd test props "$id" --bs=false
  sign_in >/dev/null
  flags
  echo "== BE never changes for a credential: the relying party must refuse"
  passkeyd test props "$id" --be=false
  if sign_in; then
    echo "the relying party accepted a change of BE" >&2
    exit 1
  fi
fi
