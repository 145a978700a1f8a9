#!/usr/bin/env bash
# Builds spindle's libFuzzer targets with clang (ASan + UBSan) and runs each one for a short
# time on a scratch copy of its seed corpus; fails if any target finds a crash, a leak or
# undefined behaviour. CI calls it with the defaults; a long run is the same script:
#
#   scripts/fuzz-ci.sh                          every target, 20 s each
#   scripts/fuzz-ci.sh --seconds 600 resp kv    some targets, longer
#   scripts/fuzz-ci.sh --runs 10000000 frame    until 10 million inputs have run, in sessions
#                                               of at most 9 minutes on one growing corpus
#   scripts/fuzz-ci.sh --runs 10000000 --campaign DIR log_record
#                                               the same, resumable: the corpus and the log
#                                               live in DIR/<target>/ and DIR/<target>.log,
#                                               and executions of earlier invocations count
#   options: --build DIR (build-fuzz)  --keep (keep the grown corpora)
#
# A crash leaves its input in DIR/fuzz-artifacts/<target>/ and the fuzzer's output in
# DIR/fuzz-logs/<target>.log; replay it with build-fuzz/tests/fuzz/fuzz_<target> FILE.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

seconds=20
runs=0
SESSION_S=${SPINDLE_FUZZ_SESSION_S:-540}
build=build-fuzz
keep=no
campaign=
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--keep) keep=yes; shift ;;
	--campaign) campaign=$2; shift 2 ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	-*) echo "fuzz-ci: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done

# Every target is a tests/fuzz/fuzz_<name>.c with a seed corpus in tests/fuzz/corpus/<name>.
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		n=$(basename "$f" .c)
		targets+=("${n#fuzz_}")
	done
fi
for t in "${targets[@]}"; do
	[ -f "tests/fuzz/fuzz_$t.c" ] || { echo "fuzz-ci: no target $t" >&2; exit 2; }
done

command -v clang >/dev/null || { echo "fuzz-ci: clang is needed" >&2; exit 2; }
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false >"$build.setup.log" 2>&1 ||
		{ cat "$build.setup.log" >&2; exit 1; }
fi
nice ninja -C "$build" -j2 $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}") >/dev/null

# Inputs no larger than what each decoder's seeds need to grow into.
max_len() {
	case "$1" in
	log_record) echo 8192 ;;
	frame|repl_msg) echo 16384 ;;
	snapshot) echo 81920 ;; # a snapshot of two chunks (64 KiB each)
	*) echo 4096 ;;
	esac
}

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$build/fuzz-logs" "$build/fuzz-artifacts"
status=0
printf '%-12s %12s %10s %8s  %s\n' target executions "exec/s" seconds result
for t in "${targets[@]}"; do
	if [ -n "$campaign" ]; then
		corpus="$campaign/$t"
		log="$campaign/$t.log"
		if [ ! -d "$corpus" ]; then
			mkdir -p "$corpus"
			cp "tests/fuzz/corpus/$t/"* "$corpus/"
			: >"$log"
		fi
	else
		corpus=$(mktemp -d "/tmp/spindle-fuzz-$t.XXXXXX")
		cp "tests/fuzz/corpus/$t/"* "$corpus/"
		log="$build/fuzz-logs/$t.log"
		: >"$log"
	fi
	art="$build/fuzz-artifacts/$t"
	mkdir -p "$art"
	t0=$(date +%s)
	rc=0
	execs=$(awk '/stat::number_of_executed_units/ {s += $NF} END {print s + 0}' "$log")
	execs0=$execs
	# One session for a timed run; for --runs, sessions of at most SESSION_S seconds (the
	# machine is shared) on the same corpus until the total is reached.
	while [ "$runs" -eq 0 ] || [ "$execs" -lt "$runs" ]; do
		if [ "$runs" -gt 0 ]; then
			limit=(-runs=$((runs - execs)) -max_total_time="$SESSION_S")
		else
			limit=(-max_total_time="$seconds")
		fi
		nice "$build/tests/fuzz/fuzz_$t" "${limit[@]}" -max_len="$(max_len "$t")" \
			-print_final_stats=1 -artifact_prefix="$art/" "$corpus" >>"$log" 2>&1 || rc=$?
		n=$(awk '/stat::number_of_executed_units/ {n = $NF} END {print n + 0}' "$log")
		execs=$(awk '/stat::number_of_executed_units/ {s += $NF} END {print s + 0}' "$log")
		[ "$rc" -eq 0 ] && [ "$runs" -gt 0 ] && [ "$execs" -lt "$runs" ] && [ "$n" -gt 0 ] || break
	done
	t1=$(date +%s)
	rate=$(( (execs - execs0) / ( (t1 - t0) > 0 ? (t1 - t0) : 1 ) ))
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc; log $log, inputs in $art)"
		status=1
	fi
	printf '%-12s %12s %10s %8s  %s\n' "$t" "${execs:--}" "${rate:--}" $((t1 - t0)) "$result"
	if [ "$rc" -ne 0 ]; then
		grep -m1 -E "ERROR: |runtime error|SUMMARY" "$log" >&2 || tail -5 "$log" >&2
	fi
	if [ -n "$campaign" ]; then
		echo "  campaign in $corpus ($(ls "$corpus" | wc -l) files), log $log"
	elif [ "$keep" = yes ]; then
		echo "  corpus kept in $corpus ($(ls "$corpus" | wc -l) files)"
	else
		rm -rf "$corpus"
	fi
done
exit $status
