#!/usr/bin/env bash
# Installs Debian's chromium for the end-to-end test that drives the Temporal
# UI (test/e2e): playwright-core uses it through executablePath, so no browser
# build is ever downloaded. A no-op when /usr/bin/chromium is already there.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
# shellcheck source=lib/apt-install.sh
source "$(dirname "$0")/lib/apt-install.sh"
apt_install install-chromium chromium
[[ -x /usr/bin/chromium ]] || { echo "install-chromium: apt-get finished but /usr/bin/chromium is still missing" >&2; exit 1; }
echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)" >&2
