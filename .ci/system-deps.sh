#!/usr/bin/env bash
# System packages some tests need (listed in .ci/apt-packages.txt, one per line, '#' comments).
# Installed only when missing and only where apt-get can run as root (CI, a root dev box);
# elsewhere the tests that need them skip themselves with a message.
set -uo pipefail
cd "$(dirname "$0")"
mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^\s*$/d' apt-packages.txt 2>/dev/null)
[ ${#pkgs[@]} -eq 0 ] && exit 0
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: not installing ${missing[*]} (needs root and apt-get); tests that need them will skip."
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
