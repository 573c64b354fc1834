#!/usr/bin/env bash
# Installs the real parts the tests use (see docs/development.md):
#   swtpm + tpm2-tools      TPM 2.0 backend and tpm attestation
#   gnome-keyring + dbus    OS keyring backend, fake fprintd on a private bus
#   python3-fido2           an independent CTAP2 client
#   chromium + playwright   the browser end-to-end test
#   gcc + libssl-dev        cgo for the go-tpm-tools simulator
# Run as root (CI is root). Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
pkgs=(swtpm swtpm-tools tpm2-tools gnome-keyring dbus dbus-daemon libsecret-tools
      python3-fido2 chromium gcc libssl-dev curl jq ca-certificates)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -f web/package.json ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
go mod download
