#!/usr/bin/env bash
# Installs Debian's chromium for the end-to-end test that drives the Temporal
# UI (test/e2e): playwright-core uses it through executablePath, so no browser
# build is ever downloaded. A no-op when /usr/bin/chromium is already there.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-chromium: /usr/bin/chromium is missing and installing it needs root (or passwordless sudo); run as root: apt-get update && apt-get install -y --no-install-recommends chromium" >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "install-chromium: apt-get not found: install Chromium as /usr/bin/chromium by hand" >&2; exit 1; }
echo "install-chromium: installing Debian's chromium (first run only)..." >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
[[ -x /usr/bin/chromium ]] || { echo "install-chromium: apt-get finished but /usr/bin/chromium is still missing" >&2; exit 1; }
echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)" >&2
