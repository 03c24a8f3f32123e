#!/usr/bin/env bash
# Installs Debian's prometheus for the tests that scrape a real Prometheus and
# for `saferoll dev --prometheus`, which runs /usr/bin/prometheus with its own
# config (the package's service is never used). A no-op when
# /usr/bin/prometheus is already there.
set -euo pipefail
if [[ -x /usr/bin/prometheus ]]; then
  exit 0
fi
if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-prometheus: /usr/bin/prometheus is missing and installing it needs root (or passwordless sudo); run as root: apt-get update && apt-get install -y --no-install-recommends prometheus" >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "install-prometheus: apt-get not found: install Prometheus (2.x, with http_sd_configs) as /usr/bin/prometheus by hand" >&2; exit 1; }
echo "install-prometheus: installing Debian's prometheus (first run only)..." >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
# The package starts its service where an init system runs; saferoll never uses
# that instance (it starts its own with its own config and storage).
"${as_root[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
[[ -x /usr/bin/prometheus ]] || { echo "install-prometheus: apt-get finished but /usr/bin/prometheus is still missing" >&2; exit 1; }
echo "install-prometheus: $(/usr/bin/prometheus --version 2>&1 | head -n 1 || echo prometheus installed)" >&2
