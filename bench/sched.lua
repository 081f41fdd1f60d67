-- sched.lua -- dagl's side of the scheduler workloads of DESIGN.md, one per run:
--   build/dagl bench/sched.lua W1|W2|W3|W4|W4_1|W6|chain|wide|peak [reps]
-- Prints "RESULT <name> <median seconds per iteration>" (and GFLOPS lines for W3/peak).
-- W3: 4 parallel branches x 4 Linear(512,512), batch 256, summed.
-- W4: 4 parallel branches x 8 Linear(256,256), batch 16, summed (W4_1: the same at 1 thread).
-- W6: 2 parallel branches of CPU-bound Lua nodes, global VM lock vs per-worker lua_States.
-- chain / wide: 10,000 tiny nodes in a chain / side by side (per-node scheduling overhead).
-- W1: MLP forward 1000x100 -> 64 relu -> 64 relu -> 10 softmax.
-- W2: one training step of an MLP 784-256-256-10, batch 128, SGD, softmax cross-entropy.
local dagl = require "dagl"

local which = arg[1] or "W3"
local reps = math.tointeger(tonumber(arg[2]) or 15)

local now = dagl.wall_time -- monotonic wall clock (os.clock is CPU time, which grows with threads)

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

-- Median wall seconds of body() over reps runs, after warming up for 0.3 s (at least 3 runs):
-- the first runs pay for page faults, CPU clock ramp-up and OpenBLAS's idle threads spinning.
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

-- y = sum over branches of a chain of Linear layers (x W + b), as one traced graph.
local function branches(nb, depth, width, batch)
  dagl.manual_seed(1)
  local ws, bs = {}, {}
  for b = 1, nb do
    ws[b], bs[b] = {}, {}
    for l = 1, depth do
      ws[b][l] = dagl.randn(width, width) * (1 / math.sqrt(width))
      bs[b][l] = dagl.randn(width) * 0.01
    end
  end
  local f = dagl.fn(function(x)
    local acc
    for b = 1, nb do
      local h = x
      for l = 1, depth do h = h:matmul(ws[b][l]) + bs[b][l] end
      acc = acc and acc + h or h
    end
    return acc
  end)
  return f, dagl.randn(batch, width)
end

local function result(name, v) print(("RESULT %s %.9g"):format(name, v)) end

if which == "W3" or which == "peak" then
  dagl.set_threads(2)
  if which == "W3" then
    local f, x = branches(4, 4, 512, 256)
    local t = time(function() f(x) end)
    result("W3", t)
    result("W3_gflops", 16 * 2 * 256 * 512 * 512 / t / 1e9)
  else
    -- the sgemm peak in this run: one 2048 x 2048 product split across the 2 workers
    local a, b = dagl.randn(2048, 2048), dagl.randn(2048, 2048)
    local t = time(function() a:matmul(b) end)
    result("peak_gflops", 2 * 2048 ^ 3 / t / 1e9)
  end
elseif which == "W4" or which == "W4_1" then
  dagl.set_threads(which == "W4" and 2 or 1)
  local f, x = branches(4, 8, 256, 16)
  result(which, time(function() f(x) end))
elseif which == "W6" then
  -- both lock modes in one process, alternating, so machine noise hits both alike
  dagl.set_threads(2)
  -- CPU-bound pure Lua: no upvalues, so per-worker states can load it
  local busy = dagl.luaop{name = "busy", forward = function(t)
    local s = 0
    for i = 1, 3000000 do s = s + (i % 7) * 0.5 end
    return t + s * 0
  end}
  local f = dagl.fn(function(x) return busy(x) + busy(x * 2) end)
  local x = dagl.ones(4)
  local ts = {global = {}, ["per-worker"] = {}}
  for _, mode in ipairs {"global", "per-worker"} do dagl.set_lock_mode(mode) f(x) f(x) end
  for r = 1, reps do
    for _, mode in ipairs {"global", "per-worker"} do
      dagl.set_lock_mode(mode)
      local t0 = now()
      f(x)
      ts[mode][r] = now() - t0
    end
  end
  result("W6_global", median(ts.global))
  result("W6_per_worker", median(ts["per-worker"]))
elseif which == "chain" or which == "wide" then
  dagl.set_threads(2)
  local n, nodes = 10000, 0
  local f = dagl.fn(function(x)
    if which == "chain" then
      local h = x
      for _ = 1, n do h = h + 1 end
      nodes = n
      return h
    end
    -- n independent tiny nodes, then a tree of adds joining them (n - 1 more nodes)
    local level = {}
    for i = 1, n do level[i] = x + i end
    nodes = n
    while #level > 1 do
      local up = {}
      for i = 1, #level, 2 do up[#up + 1] = level[i + 1] and level[i] + level[i + 1] or level[i] end
      nodes = nodes + #level // 2
      level = up
    end
    return level[1]
  end)
  local x = dagl.ones(1)
  local t = time(function() f(x) end)
  result(which .. "_ns_per_node", t / nodes * 1e9)
elseif which == "W1" then
  dagl.set_threads(2)
  local nn = dagl.nn
  dagl.manual_seed(1)
  local model = nn.Sequential{nn.Dense(64, {activation = "relu"}), nn.Dense(64, {activation = "relu"}),
                              nn.Dense(10, {activation = "softmax"})}
  local x = dagl.randn(1000, 100)
  model:build(x.shape)
  local f = dagl.fn(function(xb) return model(xb) end)
  result("W1", time(function() f(x) end))
elseif which == "W2" then
  dagl.set_threads(2)
  local nn = dagl.nn
  dagl.manual_seed(1)
  local model = nn.Sequential{nn.Dense(256, {activation = "relu"}), nn.Dense(256, {activation = "relu"}), nn.Dense(10)}
  model:build{128, 784}
  model:compile{optimizer = nn.SGD{lr = 0.01}, loss = nn.losses.CategoricalCrossentropy{from_logits = true}}
  local x, y = dagl.randn(128, 784), nn.one_hot((function()
    local t = {}
    for i = 1, 128 do t[i] = (i * 7) % 10 end
    return t
  end)(), 10)
  result("W2", time(function() model:train_on_batch(x, y) end))
else
  error("unknown workload " .. tostring(which))
end
