#!/usr/bin/env bash
# The one command that runs spindle's tests on a fresh machine: set-up, build, every suite of
# the normal build, then the unit and simulation suites and a short cluster test again under
# ASan+UBSan, then each libFuzzer target briefly (clang, ASan+UBSan).
# Extra arguments go to `meson test` for the normal build (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --asan

echo "== tests (build/)"
meson test -C build --print-errorlogs --num-processes 2 "$@"

echo "== unit and simulation tests under ASan+UBSan (build-asan/)"
meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite sim

echo "== a short cluster test under ASan+UBSan (build-asan/): real spindled processes"
meson test -C build-asan --print-errorlogs --num-processes 1 cluster/regressions

echo "== fuzzing: every libFuzzer target for 10 s (scripts/fuzz-ci.sh)"
bash scripts/fuzz-ci.sh --seconds 10
