#!/usr/bin/env bash
# The long crash test of `skiff watch`: FILES files dropped into an inbox (some written slowly in
# pieces, some under a .part name, some corrupt or truncated, some duplicates) while the real
# `skiff` binary is killed with SIGKILL at random moments KILLS times and restarted, in inotify
# and in polling mode; then every input is checked (done/ or failed/ exactly once, one output per
# content, duplicates linked, nothing in flight, nothing committed twice in the journal).
# The test suite runs the same test with 200 files and 20 kills.
#   usage: tools/crash_watch.sh [FILES] [KILLS]     (default 1000 files, 100 kills)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
files="${1:-1000}"
kills="${2:-100}"
swift build --build-tests >/dev/null
SKIFF_CRASH_FILES="$files" SKIFF_CRASH_KILLS="$kills" \
  swift test --skip-build --filter WatchCrashTests 2>&1 | grep -E "^crash test|passed after|failed after|Expectation failed|error:" || true
