#!/usr/bin/env bash
# The one command that runs spindle's tests on a fresh machine: set-up, build, every suite of
# the normal build, then the unit and simulation suites again under ASan+UBSan.
# Extra arguments go to `meson test` for the normal build (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --asan

echo "== tests (build/)"
meson test -C build --print-errorlogs --num-processes 2 "$@"

echo "== unit and simulation tests under ASan+UBSan (build-asan/)"
meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite sim
