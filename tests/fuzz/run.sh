#!/usr/bin/env bash
# Builds every libFuzzer target tests/fuzz/fuzz_*.c with clang, ASan and
# UBSan (any report stops the run) and runs each for SECONDS (default: the
# environment's FUZZ_SECONDS, else 60) on its corpus, tests/fuzz/corpus/NAME/
# (kept in git: seeds and every input that once found a bug, all replayed
# first). What the run learns goes to a scratch corpus under FUZZ_DIR
# (default /tmp/incidentd-fuzz), never into the checkout; a crashing input
# is written there too (crash-*, leak-*, timeout-*): fix the bug and add the
# input to tests/fuzz/corpus/NAME/ as a regression input.
#
# Needs clang and libclang-rt-14-dev (Debian 12; scripts/lib.sh installs
# them). scripts/test.sh runs it as its "fuzz" step (not with --quick).
#
# usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-${FUZZ_SECONDS:-60}}
out=${FUZZ_DIR:-/tmp/incidentd-fuzz}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || {
    echo "fuzz: SECONDS must be a positive integer, got '$seconds'" >&2
    exit 2
}
command -v clang >/dev/null || {
    echo "fuzz: clang not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
}

srcs=()
for m in jsonv request random util error token; do srcs+=("$root/src/core/$m.c"); done
read -ra cflags <<<"$(pkg-config --cflags json-c)"
read -ra libs <<<"$(pkg-config --libs json-c libcrypto)"

rc=0
for driver in "$root"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$driver" .c)
    corpus="$root/tests/fuzz/corpus/$name"
    work="$out/$name"
    mkdir -p "$work/corpus" "$work/artifacts"
    [ -d "$corpus" ] || {
        echo "fuzz: $name has no corpus directory $corpus" >&2
        exit 2
    }
    clang -std=c11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all -I"$root/src/core" "${cflags[@]}" "$driver" "${srcs[@]}" \
        -o "$work/$name" "${libs[@]}"
    dict=()
    [ -f "$root/tests/fuzz/$name.dict" ] && dict=(-dict="$root/tests/fuzz/$name.dict")
    # New inputs go to the first corpus directory (the scratch one); the
    # kept corpus is read, replayed first, and left as it is.
    t0=$(date +%s)
    status=0
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$work/$name" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" \
        "$work/corpus" "$corpus" >"$work/log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
    if [ "$status" = 0 ]; then
        printf 'fuzz: %s: %s runs in %d s, nothing found (corpus %s + %s new)\n' "$name" \
            "${runs:-?}" "$(($(date +%s) - t0))" "$(find "$corpus" -type f | wc -l)" \
            "$(find "$work/corpus" -type f | wc -l)"
    else
        tail -n 60 "$work/log" >&2
        echo "fuzz: $name FAILED (exit $status); input(s): $(ls "$work/artifacts/" 2>/dev/null | tr '\n' ' ')" >&2
        echo "fuzz: fix it, then keep the input: cp $work/artifacts/crash-… $corpus/" >&2
        rc=1
    fi
done
exit "$rc"
