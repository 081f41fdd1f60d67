-- eager_vs_fn.lua -- the article's third example: the same computation as an eager Lua loop of
-- small ops and as a traced graph (dagl.fn, like tf.function). Eagerly, every op goes through
-- Lua (and in TensorFlow, through Python); traced, Lua runs once and the scheduler runs the
-- graph without the VM lock.
--   build/dagl examples/eager_vs_fn.lua [steps=200]
local dagl = require "dagl"

local steps = math.tointeger(tonumber(arg[1])) or 200
dagl.manual_seed(5)
local w = dagl.randn(16, 16) * 0.3

-- A small recurrent cell unrolled `steps` times: h = tanh(h W + x_t) - many tiny ops.
local function rnn(h, x)
  for _ = 1, steps do h = (h:matmul(w) + x):tanh() end
  return h
end

local h0, x = dagl.zeros(1, 16), dagl.randn(1, 16) -- tiny: the cost is per op, not per flop
local compiled = dagl.fn(rnn)

local function timeit(f)
  local t_warm = dagl.wall_time() + 0.2
  repeat f(h0, x) until dagl.wall_time() > t_warm
  local n, t0 = 0, dagl.wall_time()
  repeat f(h0, x) n = n + 1 until dagl.wall_time() - t0 > 0.5
  return (dagl.wall_time() - t0) / n
end

local te, tg = timeit(rnn), timeit(compiled)
local diff = (rnn(h0, x) - compiled(h0, x)):abs():max():item()
print(("%d steps of h = tanh(h W + x), %d ops per call"):format(steps, 3 * steps))
print(("eager Lua loop : %8.3f ms per call (%.0f ns per op)"):format(te * 1e3, te / (3 * steps) * 1e9))
print(("dagl.fn graph  : %8.3f ms per call (%.0f ns per op), traced %d time(s)"):format(tg * 1e3,
  tg / (3 * steps) * 1e9, compiled.traces))
print(("speed-up %.2fx; results differ by at most %g"):format(te / tg, diff))
print()
print("The chain has no parallelism, so the gain is the per-op overhead: the graph skips Lua")
print("dispatch, argument checks and garbage collection for every op; on wide graphs the")
print("scheduler also runs independent ops at the same time.")
