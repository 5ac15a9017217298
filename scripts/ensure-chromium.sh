#!/usr/bin/env bash
# Makes sure Debian's chromium is installed at /usr/bin/chromium for the console's browser tests (playwright-core
# drives it; no browser is downloaded by any npm package). Installed from Debian's packages as root when missing, the
# way scripts/ensure-services.sh installs PostgreSQL and Redis. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
command -v apt-get >/dev/null || { echo "[chromium] apt-get not found; install chromium by hand" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "[chromium] not root: install Debian's chromium package yourself" >&2; exit 1; }
echo "[chromium] + apt-get install chromium"
apt-get update
apt-get install -y --no-install-recommends chromium
[ -x /usr/bin/chromium ]
