#!/usr/bin/env bash
# spec/fuzz/seeds.sh DIR -- fills DIR/<target>/ with the seed corpus: the fixtures of spec/fixtures/
# of each format, plus a few small CSV files (the first byte of a CSV input picks the options,
# see fuzz_csv.c).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out=$1
mkdir -p "$out"/fuzz_safetensors "$out"/fuzz_npy "$out"/fuzz_npz "$out"/fuzz_csv
cp "$root"/spec/fixtures/*.safetensors "$root"/examples/embed/*.safetensors "$out"/fuzz_safetensors/ 2>/dev/null || true
cp "$root"/spec/fixtures/*.npy "$out"/fuzz_npy/
cp "$root"/spec/fixtures/*.npz "$out"/fuzz_npz/
printf '\001a,b,c\n1,2,3\n4.5,-6e3,"7"\n\n' >"$out"/fuzz_csv/header.csv
printf '\0001,2\n3,4\n' >"$out"/fuzz_csv/plain.csv
printf '\0021;2\n3;4\n' >"$out"/fuzz_csv/semicolon.csv
head -c 2000 "$root"/examples/data/iris.csv | { printf '\001'; cat; } >"$out"/fuzz_csv/iris.csv
