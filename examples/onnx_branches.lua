-- onnx_branches.lua -- an ONNX model exported by PyTorch (an Inception-like block: four parallel
-- conv branches joined along the channels, spec/fixtures/onnx/branches_wide.onnx) run by dagl at
-- 1 and 2 threads: the trace summary shows the branches running at the same time (parallelism,
-- critical path), which ONNX Runtime no longer does on CPU (it runs independent nodes one after
-- another since 1.14). The outputs are bitwise the same at both thread counts.
--   build/dagl examples/onnx_branches.lua [out_dir=timelines] [batch=4] [size=48]
local dagl = require "dagl"

local here = debug.getinfo(1, "S").source:match("^@(.*)/examples/[^/]*$") or "."
local dir = arg[1] or "timelines"
local batch = math.tointeger(tonumber(arg[2])) or 4
local size = math.tointeger(tonumber(arg[3])) or 48
os.execute("mkdir -p '" .. dir .. "'")

local model = dagl.onnx.load(here .. "/spec/fixtures/onnx/branches_wide.onnx")
local inp = model.inputs[1]
print(("model: %s, input '%s' %s (batch, height and width open), output '%s'"):format(
  "branches_wide.onnx", inp.name, table.concat(inp.shape, "x"), model.outputs[1]))

dagl.manual_seed(3)
local x = dagl.randn(batch, 16, size, size)
local results = {}
for _, threads in ipairs {1, 2} do
  dagl.set_threads {inter = threads, intra = 1} -- each conv on one worker: only branches overlap
  model(x) -- builds the graph for this shape (once) and warms up
  local stats, y -- the fastest of 3 traced runs
  for _ = 1, 3 do
    local s, out = dagl.trace(function() return model(x) end)
    if not stats or s.wall < stats.wall then stats, y = s, out end
  end
  dagl.trace({svg = ("%s/onnx_branches_%d.svg"):format(dir, threads)}, function() return model(x) end)
  results[threads] = y
  print(("\n-- %d thread%s: wall %.1f ms, parallelism %.2f, critical path %.1f ms"):format(
    threads, threads > 1 and "s" or "", stats.wall * 1e3, stats.parallelism, stats.critical_path * 1e3))
  print(stats.summary)
end
dagl.set_threads {inter = 0, intra = 0}
local same = (results[1] - results[2]):abs():max():item() == 0
print(("\noutputs at 1 and 2 threads bitwise equal: %s"):format(same and "yes" or "NO"))
if not same then os.exit(1) end
