// bench/w3_ort.js MODEL REPS -- W3 (4 parallel branches x 4 Linear(512), batch 256, summed) in
// ONNX Runtime, 2 threads: MODEL is the ONNX file `bench/sched.py W3_onnx MODEL` writes. Run with
// NODE_PATH pointing at an `npm install --ignore-scripts onnxruntime-node` folder (bench/run does).
// Tries ORT's sequential executor (2 intra-op threads per GEMM) and its parallel one (2 branches at
// a time, 1 thread each) and prints "RESULT W3_ort_seq|W3_ort_par <median seconds per run>", timed
// like bench/sched.lua (0.3 s and at least 3 runs of warm-up, then REPS timed runs).
const ort = require("onnxruntime-node");

const [model, reps] = [process.argv[2], parseInt(process.argv[3] || "15", 10)];

// Median seconds of one awaited run of `body`, after the warm-up.
async function timed(body) {
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  const tEnd = now() + 0.3;
  for (let n = 0; n < 3 || now() < tEnd; n++) await body();
  const ts = [];
  for (let r = 0; r < reps; r++) {
    const t0 = now();
    await body();
    ts.push(now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[(ts.length - 1) >> 1];
}

async function main() {
  const x = new Float32Array(256 * 512).map(() => Math.random() * 2 - 1);
  const feeds = { x: new ort.Tensor("float32", x, [256, 512]) };
  const configs = {
    W3_ort_seq: { executionMode: "sequential", intraOpNumThreads: 2, interOpNumThreads: 1 },
    W3_ort_par: { executionMode: "parallel", intraOpNumThreads: 1, interOpNumThreads: 2 },
  };
  for (const [name, opts] of Object.entries(configs)) {
    const s = await ort.InferenceSession.create(model, { graphOptimizationLevel: "all", ...opts });
    console.log(`RESULT ${name} ${(await timed(() => s.run(feeds))).toPrecision(9)}`);
  }
}

main().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
