#!/usr/bin/env bash
# spec/fuzz/seeds.sh DIR -- fills DIR/<target>/ with the seed corpus: the fixtures of spec/fixtures/
# of each format (the .npz ones include deflated archives, np.savez_compressed's), small IDX files
# of every type, plain and gzipped, plus a few small CSV files (the first byte of a CSV input picks
# the options, see fuzz_csv.c), one of them gzipped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out=$1
mkdir -p "$out"/fuzz_safetensors "$out"/fuzz_npy "$out"/fuzz_npz "$out"/fuzz_idx "$out"/fuzz_csv "$out"/fuzz_onnx
cp "$root"/spec/fixtures/*.safetensors "$root"/examples/embed/*.safetensors "$out"/fuzz_safetensors/ 2>/dev/null || true
cp "$root"/spec/fixtures/*.npy "$out"/fuzz_npy/
cp "$root"/spec/fixtures/*.npz "$out"/fuzz_npz/
printf '\001a,b,c\n1,2,3\n4.5,-6e3,"7"\n\n' >"$out"/fuzz_csv/header.csv
printf '\0001,2\n3,4\n' >"$out"/fuzz_csv/plain.csv
printf '\0021;2\n3;4\n' >"$out"/fuzz_csv/semicolon.csv
head -c 2000 "$root"/examples/data/iris.csv | { printf '\001'; cat; } >"$out"/fuzz_csv/iris.csv
printf '1,2\n3,4\n' | gzip -n -c | { printf '\000'; cat; } >"$out"/fuzz_csv/plain.csv.gz # gunzipped by zlib
# IDX: magic (0, 0, type, ndim), big-endian dims, data; uint8 images and labels, the other types
idx=$out/fuzz_idx
printf '\0\0\10\3\0\0\0\2\0\0\0\3\0\0\0\2\1\2\3\4\5\6\7\10\11\12\13\14' >"$idx"/images.idx
printf '\0\0\10\1\0\0\0\4\0\11\5\7' >"$idx"/labels.idx
printf '\0\0\11\1\0\0\0\2\377\5' >"$idx"/int8.idx
printf '\0\0\13\1\0\0\0\2\377\376\1\0' >"$idx"/int16.idx
printf '\0\0\14\2\0\0\0\1\0\0\0\2\200\0\0\0\0\0\1\2' >"$idx"/int32.idx
printf '\0\0\15\1\0\0\0\2\77\300\0\0\301\40\0\0' >"$idx"/float32.idx
printf '\0\0\16\1\0\0\0\1\100\11\41\373\124\104\55\30' >"$idx"/float64.idx
for f in images labels int16 float64; do gzip -n -c "$idx/$f.idx" >"$idx/$f.idx.gz"; done
# ONNX: the small models of spec/fixtures/onnx (every op's single-node model, the MLP, the
# branches) and a few TensorProto files
for f in "$root"/spec/fixtures/onnx/op_*.onnx "$root"/spec/fixtures/onnx/mlp.onnx "$root"/spec/fixtures/onnx/branches.onnx \
         "$root"/spec/fixtures/onnx/op_conv.in0.pb "$root"/spec/fixtures/onnx/op_shape.out0.pb; do
  cp "$f" "$out"/fuzz_onnx/
done
