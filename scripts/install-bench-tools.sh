#!/usr/bin/env bash
# Installs the tools the router benchmark compares against: Debian's nginx
# (a keep-alive reverse proxy as the reference) and wrk (the load generator).
# A no-op when both are already on PATH; otherwise apt-get, as root or via sudo.
set -euo pipefail

missing=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

# shellcheck source=lib/apt-install.sh
source "$(dirname "$0")/lib/apt-install.sh"
apt_install install-bench-tools "${missing[@]}"
# The Debian package may start a system nginx on port 80; the benchmark runs its
# own instance, so stop the system one when a service manager started it.
if [[ " ${missing[*]} " == *" nginx "* ]] && command -v service >/dev/null 2>&1; then
  $(as_root_prefix) service nginx stop >/dev/null 2>&1 || true
fi
for tool in "${missing[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1 && ! [[ -x "/usr/sbin/$tool" ]]; then
    echo "install-bench-tools: $tool is still missing after apt-get install" >&2
    exit 1
  fi
done
echo "install-bench-tools: ok ($(wrk --version 2>&1 | head -1 | cut -d" " -f1-2); $( (command -v nginx >/dev/null && nginx -v || /usr/sbin/nginx -v) 2>&1))" >&2
