#!/usr/bin/env bash
# Installs the Debian 12 packages relais needs (idempotent: does nothing when all are present).
set -euo pipefail

PACKAGES=(
  python3-venv python3-dev build-essential
  swig uuid-dev libssl-dev curl patch
  sqlite3 postgresql postgresql-client
  sip-tester sipsak baresip linphone-cli
  kamailio kamailio-sqlite-modules kamailio-postgres-modules kamailio-presence-modules
  mosquitto openssl iproute2
  ffmpeg sox espeak-ng
  chromium fonts-dejavu-core
  tshark libspandsp2 libspandsp-dev
  ghostscript
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing packages (${missing[*]}); run as root: sudo $0" >&2
  exit 1
fi

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, quietly.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts these as system services on install; relais starts its own instances.
for svc in kamailio mosquitto; do
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  service "$svc" stop >/dev/null 2>&1 || true
done
echo "install-system-deps: done"
