#!/usr/bin/env bash
# Installs the Debian packages Louder's tests need (run as root). Idempotent: installed packages are skipped.
#   postgresql                 real PostgreSQL server for the repository, queue and durability suites (runs as user postgres)
#   ffmpeg                     video frame sampling for media matching, test videos
#   libimage-exiftool-perl     ExifTool: metadata of videos entering the evidence locker
#   openssl                    the test timestamp authority (court export) and the locker benchmark's reference
set -euo pipefail
packages=(postgresql ffmpeg libimage-exiftool-perl openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: ${packages[*]}"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
