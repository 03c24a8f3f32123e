# Sourced by the install scripts: installs Debian packages with apt-get, as
# root or through passwordless sudo, and explains what to do when neither is
# possible. Usage: apt_install <script name> <package>...
apt_install() {
  local who=$1
  shift
  local as_root
  if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "$who: missing $*; installing needs root (or passwordless sudo); run as root: apt-get update && apt-get install -y --no-install-recommends $*" >&2
    return 1
  fi
  command -v apt-get >/dev/null 2>&1 || {
    echo "$who: missing $* and no apt-get here (Debian/Ubuntu expected): install them with your package manager" >&2
    return 1
  }
  echo "$who: installing Debian's $* (first run only)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq >&2
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The command that runs as root (empty when this is root): for a script's own follow-up, e.g. stopping a service the package started.
as_root_prefix() {
  if [[ "$(id -u)" -ne 0 ]]; then echo "sudo -n"; fi
}
