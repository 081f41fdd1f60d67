-- concurrency.lua -- "do layers execute concurrently?", measured. Parallel branches of
--   (a) C kernels (matmuls): 1 thread vs N threads, each kernel also split across workers
--   (a1) the same with each kernel on one worker (set_threads{intra = 1}): inter-op alone
--   (b) Lua nodes that sleep, global VM lock: sleep releases the lock, so they overlap
--   (c) Lua nodes that spin, global VM lock: they serialize, like Python threads under the GIL
--   (d) the same spinning nodes with a lua_State per worker: they run in parallel
--   (e) sleeping nodes with a lua_State per worker
-- For each: wall time with 1 thread and with N, the speed-up, the parallelism and lock-held
-- share of wall time from the trace, and an SVG timeline (+ Chrome trace JSON) to look at.
--   build/dagl examples/concurrency.lua [out_dir=timelines] [threads=cores]
local dagl = require "dagl"

local dir = arg[1] or "timelines"
local threads = math.tointeger(tonumber(arg[2])) or dagl.num_threads()
os.execute("mkdir -p '" .. dir .. "'")
local branches = math.max(threads, 2)

-- A graph of `branches` copies of `branch(x, i)` on one input, summed.
local function parallel(branch)
  return dagl.fn(function(x)
    local acc
    for i = 1, branches do
      local y = dagl.label(x, "branch" .. i, function() return branch(x, i) end)
      acc = acc and acc + y or y
    end
    return acc
  end)
end

dagl.manual_seed(7)
local ws = {}
for i = 1, branches do ws[i] = dagl.randn(384, 384) * 0.05 end
-- self-contained forwards (no upvalues): per-worker states can load them from their bytecode
local nap = dagl.luaop{name = "nap", forward = function(t) require("dagl").sleep(0.05) return t end}
local busy = dagl.luaop{name = "busy", forward = function(t) require("dagl").spin(0.05) return t end}

-- a chain of 4 matmul + tanh layers on branch i
local function matmul_chain(x, i)
  local h = x
  for _ = 1, 4 do h = h:matmul(ws[i]):tanh() end
  return h
end

-- id, what, lock mode, input, branch, intra (workers on one kernel: 0 = all)
local cases = {
  {"a", "C kernels: matmul chains", "global", dagl.randn(256, 384), matmul_chain, 0},
  {"a1", "the same, intra = 1 (inter-op)", "global", dagl.randn(256, 384), matmul_chain, 1},
  {"b", "Lua nodes that sleep 50 ms", "global", dagl.ones(8), function(x) return nap(x) end},
  {"c", "Lua nodes that spin 50 ms", "global", dagl.ones(8), function(x) return busy(x) end},
  {"d", "Lua nodes that spin 50 ms", "per-worker", dagl.ones(8), function(x) return busy(x) end},
  {"e", "Lua nodes that sleep 50 ms", "per-worker", dagl.ones(8), function(x) return nap(x) end},
}

-- Median wall time of 3 runs of f(x) (after one warm-up run).
local function wall(f, x)
  f(x)
  local ts = {}
  for r = 1, 3 do
    local t0 = dagl.wall_time()
    f(x)
    ts[r] = dagl.wall_time() - t0
  end
  table.sort(ts)
  return ts[2]
end

print(("%d parallel branches per graph; N = %d threads; timelines in %s/"):format(branches, threads, dir))
print()
local fmt = "%-3s %-30s %-10s %9s %9s %8s %11s %10s  %s"
print(fmt:format("", "branches of", "VM lock", "1 thread", "N threads", "speedup", "parallelism", "lock held", "timeline"))
for _, c in ipairs(cases) do
  local id, what, mode, x, branch, intra = table.unpack(c)
  dagl.set_lock_mode(mode)
  local f = parallel(branch)
  dagl.set_threads{inter = 1, intra = 0}
  local t1 = wall(f, x)
  dagl.set_threads{inter = threads, intra = intra or 0}
  local tn = wall(f, x)
  local base = ("%s/%s_%s"):format(dir, id, mode)
  local st = dagl.trace({json = base .. ".json", svg = base .. ".svg"}, function() f(x) end)
  print(fmt:format(id, what, mode, ("%.1f ms"):format(t1 * 1e3), ("%.1f ms"):format(tn * 1e3),
    ("%.2fx"):format(t1 / tn), ("%.2fx"):format(st.parallelism),
    ("%.0f%%"):format(100 * st.lock_serialized_fraction), base .. ".svg"))
end
dagl.set_lock_mode("global")
dagl.set_threads{inter = threads, intra = 0}
print()
print("Reading it: C kernels run in parallel, as independent nodes alone (a1) and also split")
print("across workers (a); sleeping Lua nodes overlap under the one VM lock (sleep releases")
print("it, as time.sleep releases the GIL); spinning Lua nodes hold it and serialize (speed-up ~1x,")
print("lock held ~100% of the wall time) until each worker gets its own lua_State (per-worker mode).")
