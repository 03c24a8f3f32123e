#!/usr/bin/env bash
# Installs Debian's prometheus for the tests that scrape a real Prometheus and
# for `saferoll dev --prometheus`, which runs /usr/bin/prometheus with its own
# config (the package's service is never used). A no-op when
# /usr/bin/prometheus is already there.
set -euo pipefail
if [[ -x /usr/bin/prometheus ]]; then
  exit 0
fi
# shellcheck source=lib/apt-install.sh
source "$(dirname "$0")/lib/apt-install.sh"
# The package starts its service where an init system runs; saferoll never uses
# that instance (it starts its own with its own config and storage).
apt_install install-prometheus prometheus
[[ -x /usr/bin/prometheus ]] || { echo "install-prometheus: apt-get finished but /usr/bin/prometheus is still missing" >&2; exit 1; }
echo "install-prometheus: $(/usr/bin/prometheus --version 2>&1 | head -n 1 || echo prometheus installed)" >&2
