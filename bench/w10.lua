-- w10.lua -- dagl's side of W10 (issue 15): the ONNX files bench/w10_export.py wrote, loaded with
-- dagl.onnx.load and run on their input, at 1 and 2 threads.
--   build/dagl bench/w10.lua DIR [reps=15] [name ...]
-- Prints, per model, "RESULT <name>_t<threads> <median seconds per run>" (timed like
-- bench/sched.lua: 0.3 s and at least 3 runs of warm-up, then reps runs), "RESULT <name>_load
-- <seconds>" (dagl.onnx.load plus the first run, which builds the graph), and "RESULT <name>_check
-- <max relative error against PyTorch's output>". It also re-exports each model with dagl.onnx.save to
-- DIR/<name>.dagl.onnx with dagl's output in DIR/<name>.dagl_y.npy, which bench/w10_ort.js runs in
-- ONNX Runtime (the interop check of issue 15's export).
local dagl = require "dagl"

local dir = assert(arg[1], "usage: dagl bench/w10.lua DIR [reps] [name ...]")
local reps = math.tointeger(tonumber(arg[2]) or 15)
local now = dagl.wall_time

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

-- Median wall seconds of body() over reps runs after the warm-up (as bench/sched.lua).
local function time(body)
  local t_end, n = now() + 0.3, 0
  while n < 3 or now() < t_end do body() n = n + 1 end
  local ts = {}
  for r = 1, reps do
    local t0 = now()
    body()
    ts[r] = now() - t0
  end
  return median(ts)
end

local function result(name, v) print(("RESULT %s %.9g"):format(name, v)) end

-- max |a - b| / max |b|: one number per model, as ORT's side prints it
local function rel_err(a, b)
  return (a - b):abs():max():item() / math.max(b:abs():max():item(), 1e-30)
end

local names = {}
for i = 3, #arg do names[#names + 1] = arg[i] end
if #names == 0 then
  for line in io.lines(dir .. "/models.txt") do names[#names + 1] = line:match("^(%S+)") end
end

for _, name in ipairs(names) do
  local base = dir .. "/" .. name
  local x, ref = dagl.load_npy(base .. ".x.npy"), dagl.load_npy(base .. ".y.npy")
  dagl.set_threads(2)
  local t0 = now()
  local model = dagl.onnx.load(base .. ".onnx")
  local y = model(x)
  result(name .. "_load", now() - t0)
  result(name .. "_check", rel_err(y, ref))
  dagl.onnx.save(model, base .. ".dagl.onnx", {x})
  dagl.save_npy(base .. ".dagl_y.npy", y)
  for _, threads in ipairs {1, 2} do
    dagl.set_threads(threads)
    result(("%s_t%d"):format(name, threads), time(function() return model(x) end))
  end
  io.stderr:write(("w10: dagl %s done\n"):format(name))
end
dagl.set_threads(0)
