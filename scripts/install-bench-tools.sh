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

if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-bench-tools: missing ${missing[*]}; run as root, give this user password-less sudo, or install them yourself: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
command -v apt-get >/dev/null 2>&1 || {
  echo "install-bench-tools: missing ${missing[*]} and no apt-get here (Debian/Ubuntu expected); install them with your package manager" >&2
  exit 1
}

echo "install-bench-tools: installing ${missing[*]} with apt-get..." >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >&2
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# The Debian package may start a system nginx on port 80; the benchmark runs its
# own instance, so stop the system one when a service manager started it.
if [[ " ${missing[*]} " == *" nginx "* ]] && command -v service >/dev/null 2>&1; then
  "${as_root[@]}" service nginx stop >/dev/null 2>&1 || true
fi
for tool in "${missing[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1 && ! [[ -x "/usr/sbin/$tool" ]]; then
    echo "install-bench-tools: $tool is still missing after apt-get install" >&2
    exit 1
  fi
done
echo "install-bench-tools: ok ($(wrk --version 2>&1 | head -1 | cut -d" " -f1-2); $( (command -v nginx >/dev/null && nginx -v || /usr/sbin/nginx -v) 2>&1))" >&2
