#!/usr/bin/env bash
# spec/fuzz/run.sh [SECONDS] -- builds the libFuzzer targets with clang (ASan + UBSan) into
# build-fuzz/ and runs each for SECONDS (default 30) from the seed corpus (spec/fuzz/seeds.sh);
# fails when any target crashes, leaks, or trips a sanitizer. Crash inputs land in
# build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
secs=${1:-30}
targets=(fuzz_safetensors fuzz_npy fuzz_npz fuzz_idx fuzz_csv fuzz_onnx)

CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDAGL_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" >/dev/null

corpus=build-fuzz/corpus
bash spec/fuzz/seeds.sh "$corpus"
mkdir -p build-fuzz/artifacts
fail=0
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${secs}s"
  if ! ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
       build-fuzz/"$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
       -artifact_prefix=build-fuzz/artifacts/"$t"- -print_final_stats=0 "$corpus/$t" \
       >build-fuzz/"$t".log 2>&1; then
    echo "fuzz: $t FAILED (log: build-fuzz/$t.log)"
    tail -n 40 build-fuzz/"$t".log
    fail=1
  else
    grep -E "^#[0-9]+.*DONE" build-fuzz/"$t".log | tail -n 1 || true
  fi
done
exit $fail
