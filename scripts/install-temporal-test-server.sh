#!/usr/bin/env bash
# Installs Temporal's time-skipping test server (the one
# TestWorkflowEnvironment.createTimeSkipping() runs) into .tools/bin, from
# its Maven Central artifact run on the machine's Java: the SDK would
# otherwise download a prebuilt binary. A no-op when the pinned version is
# already there. TOOLS_DIR overrides .tools.
set -euo pipefail
cd "$(dirname "$0")/.."
version="1.31.0"
tools="${TOOLS_DIR:-.tools}"
bin="$tools/bin/temporal-test-server"
stamp="$tools/bin/.temporal-test-server-version"
if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
  exit 0
fi
command -v java >/dev/null || { echo "install-temporal-test-server: Java (17 or later) is required" >&2; exit 1; }
command -v mvn >/dev/null || { echo "install-temporal-test-server: Maven is required to fetch the test server" >&2; exit 1; }
echo "install-temporal-test-server: fetching io.temporal:temporal-test-server:$version (first run only)..." >&2
lib="$tools/temporal-test-server/lib"
mkdir -p "$tools/bin" "$lib"
lib="$(cd "$lib" && pwd)"
pom="$(mktemp -d)"
trap 'rm -rf "$pom"' EXIT
cat > "$pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>saferoll</groupId><artifactId>temporal-test-server</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>2.0.16</version></dependency>
  </dependencies>
</project>
POM
rm -f "$lib"/*.jar
mvn -q -B -f "$pom/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" >&2
# The SDK starts it as `<path> <port>`; the jars are found next to the script.
cat > "$bin" <<'SH'
#!/bin/sh
exec java -cp "$(dirname "$0")/../temporal-test-server/lib/*" io.temporal.testserver.TestServer "$@"
SH
chmod +x "$bin"
echo "$version" > "$stamp"
echo "install-temporal-test-server: $bin ($version)" >&2
