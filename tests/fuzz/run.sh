#!/usr/bin/env bash
# Builds tests/fuzz/fuzz_request.c with clang's libFuzzer, ASan and UBSan and
# runs it for SECONDS (default 60) on a corpus seeded with sample requests.
# Needs clang and libclang-rt-14-dev (Debian). Not part of scripts/test.sh:
# a fuzzing run is open-ended; run it after touching a parser.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
out=${FUZZ_DIR:-/tmp/incidentd-fuzz}
mkdir -p "$out/corpus"
printf '%s' '{"idempotency_key":"k","visibility":"public","rank":3,"flag":true}' >"$out/corpus/create.json"
printf '%s' '{"k":"v","x":{"k":1},"k":"w","y":["k"]}' >"$out/corpus/peek.json"
printf '%s' 'status=triage&status=fixing&after=01FDAG4SAP5TYPT98WGR2N7W91&page_size=25' >"$out/corpus/query.txt"
printf '%s' '/v1/incidents/%C3%A9?x=1' >"$out/corpus/path.txt"
srcs=()
for m in jsonv request random util error token; do srcs+=("$root/src/core/$m.c"); done
read -ra cflags <<<"$(pkg-config --cflags json-c)"
read -ra libs <<<"$(pkg-config --libs json-c libcrypto)"
clang -std=c11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -I"$root/src/core" "${cflags[@]}" "$root/tests/fuzz/fuzz_request.c" "${srcs[@]}" \
    -o "$out/fuzz_request" "${libs[@]}"
"$out/fuzz_request" -max_total_time="$seconds" -max_len=4096 "$out/corpus"
