#!/usr/bin/env bash
# Installs the Temporal CLI (which embeds the dev server and its UI) into
# .tools/bin, built from its Go module: no binary download is needed.
# A no-op when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
version="v1.5.1" # later tags carry a go.mod replace directive that go install refuses
bin=".tools/bin/temporal"
stamp=".tools/bin/.temporal-version"
if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
  exit 0
fi
command -v go >/dev/null || { echo "install-temporal: Go is required to build the Temporal CLI" >&2; exit 1; }
echo "install-temporal: building github.com/temporalio/cli $version (first run only, a few minutes)..." >&2
mkdir -p .tools/bin
GOBIN="$PWD/.tools/bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$version"
echo "$version" > "$stamp"
echo "install-temporal: $("$bin" --version)" >&2
