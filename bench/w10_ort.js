// bench/w10_ort.js DIR [REPS] [name ...] -- ONNX Runtime's side of W10 (issue 15): the ONNX files
// bench/w10_export.py wrote, run on their input by onnxruntime-node (NODE_PATH pointing at an
// `npm install --ignore-scripts onnxruntime-node` folder, as bench/run sets it up).
// Per model and thread budget it tries every executor setting that fits the budget (sequential
// with intra-op threads 1..n; parallel with inter x intra <= n) and prints
//   RESULT <name>_<setting> <median seconds per run>   (timed as bench/w10.lua times dagl)
//   RESULT <name>_load <seconds>                        (InferenceSession.create plus the first run)
//   RESULT <name>_check <max relative error against PyTorch's output>
//   RESULT <name>_interop <max relative error of ORT running dagl's export against dagl's output>
// The last line is the interop check of dagl.onnx.save: DIR/<name>.dagl.onnx and
// DIR/<name>.dagl_y.npy are written by bench/w10.lua; when ONNX Runtime refuses the file the
// error is 1e30 and the reason goes to stderr.
const fs = require("fs");
const ort = require("onnxruntime-node");

const dir = process.argv[2];
const reps = parseInt(process.argv[3] || "15", 10);
let names = process.argv.slice(4);
if (!names.length)
  names = fs.readFileSync(`${dir}/models.txt`, "utf8").trim().split("\n").map((l) => l.split(" ")[0]);

// A little-endian float32 .npy file (format 1.x or 2.x) as an ort.Tensor.
function readNpy(path) {
  const b = fs.readFileSync(path);
  if (b.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${path}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString("latin1", start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header))
    throw new Error(`${path}: only C-ordered <f4 arrays are read here (${header.trim()})`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(",").filter((s) => s.trim()).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + start + hlen, b.byteOffset + b.length));
  return new ort.Tensor("float32", data, shape);
}

// max |a - b| / max |b|, as bench/w10.lua prints it.
function relErr(a, b) {
  let d = 0, m = 1e-30;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return a.length === b.length ? d / m : Infinity;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

// Median seconds of one awaited run of `body`, after 0.3 s and at least 3 runs of warm-up.
async function timed(body) {
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

// Every executor setting within a budget of n threads, named for the RESULT lines.
function settings(n) {
  const s = {};
  for (let intra = 1; intra <= n; intra++)
    s[`t${n}_seq${intra}`] = { executionMode: "sequential", intraOpNumThreads: intra, interOpNumThreads: 1 };
  for (let inter = 2; inter <= n; inter++)
    for (let intra = 1; inter * intra <= n; intra++)
      s[`t${n}_par${inter}x${intra}`] = { executionMode: "parallel", intraOpNumThreads: intra, interOpNumThreads: inter };
  return s;
}

async function main() {
  for (const name of names) {
    const base = `${dir}/${name}`;
    const feeds = { x: readNpy(`${base}.x.npy`) };
    const ref = readNpy(`${base}.y.npy`).data;
    const common = { graphOptimizationLevel: "all" };
    let t0 = now();
    const first = await ort.InferenceSession.create(`${base}.onnx`, { ...common, intraOpNumThreads: 1 });
    const y = (await first.run(feeds)).y.data;
    console.log(`RESULT ${name}_load ${(now() - t0).toPrecision(9)}`);
    console.log(`RESULT ${name}_check ${relErr(y, ref).toPrecision(3)}`);
    for (const [setting, opts] of Object.entries({ ...settings(1), ...settings(2) })) {
      if (setting === "t1_seq1") {
        console.log(`RESULT ${name}_${setting} ${(await timed(() => first.run(feeds))).toPrecision(9)}`);
        continue;
      }
      const s = await ort.InferenceSession.create(`${base}.onnx`, { ...common, ...opts });
      console.log(`RESULT ${name}_${setting} ${(await timed(() => s.run(feeds))).toPrecision(9)}`);
    }
    if (fs.existsSync(`${base}.dagl.onnx`)) {
      try {
        const s = await ort.InferenceSession.create(`${base}.dagl.onnx`, common);
        const out = await s.run({ [s.inputNames[0]]: feeds.x });
        const got = out[s.outputNames[0]].data;
        console.log(`RESULT ${name}_interop ${relErr(got, readNpy(`${base}.dagl_y.npy`).data).toPrecision(3)}`);
      } catch (e) {
        console.log(`RESULT ${name}_interop 1e30`);
        console.error(`w10: ONNX Runtime refused dagl's export of ${name}: ${String(e.message || e).split("\n")[0]}`);
      }
    }
    console.error(`w10: onnxruntime ${name} done`);
  }
}

main().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
