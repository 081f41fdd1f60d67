-- delayed_dense.lua -- the article's second example: a custom layer, DelayedDense, whose forward
-- pass is a Dense layer plus a Lua node that waits 0.1 s (think: an I/O call or a slow Python
-- op inside a TensorFlow model). Four of them in parallel branches. The question: does the VM
-- lock serialize them? With dagl.sleep (which releases the lock, like time.sleep releases the
-- GIL) they overlap; with dagl.spin (CPU-bound Lua holding the lock) they serialize, unless each
-- worker has a lua_State of its own (per-worker mode).
--   build/dagl examples/delayed_dense.lua [timeline_dir=timelines]
local dagl = require "dagl"

local dir = arg[1] or "timelines"
os.execute("mkdir -p '" .. dir .. "'")
dagl.manual_seed(3)

-- The custom layer: weights built once; call() composes dagl ops plus one Lua node.
local DelayedDense = {}
DelayedDense.__index = DelayedDense

function DelayedDense.new(n_in, n_out, wait)
  local self = setmetatable({}, DelayedDense)
  self.w = dagl.randn(n_in, n_out) * math.sqrt(1 / n_in)
  self.b = dagl.zeros(n_out)
  -- forward must be self-contained (only require and globals) to run in per-worker states
  local body = wait == "sleep" and function(t) require("dagl").sleep(0.1) return t end
                                or function(t) require("dagl").spin(0.1) return t end
  self.delay = dagl.luaop{name = "delay_" .. wait, forward = body}
  return self
end

function DelayedDense:__call(x)
  return self.delay((x:matmul(self.w) + self.b):relu())
end

local function model(wait)
  local layers = {}
  for i = 1, 4 do layers[i] = DelayedDense.new(64, 64, wait) end
  return dagl.fn(function(x)
    local acc
    for i, layer in ipairs(layers) do
      local y = dagl.label(x, "delayed_dense_" .. i, function() return layer(x) end)
      acc = acc and acc + y or y
    end
    return acc
  end)
end

local x = dagl.randn(32, 64)
print(("4 DelayedDense layers in parallel branches, 0.1 s of Lua each, %d worker threads"):format(dagl.num_threads()))
print()
for _, case in ipairs {{"sleep", "global"}, {"spin", "global"}, {"spin", "per-worker"}} do
  local wait, mode = case[1], case[2]
  dagl.set_lock_mode(mode)
  local f = model(wait)
  f(x) -- trace once
  local base = ("%s/delayed_dense_%s_%s"):format(dir, wait, mode)
  local st = dagl.trace({json = base .. ".json", svg = base .. ".svg"}, function() f(x) end)
  print(("dagl.%-5s  lock %-10s  wall %5.2f s (serial would be 0.40 s)  parallelism %.2fx  lock held %3.0f%%  -> %s.svg")
    :format(wait, mode, st.wall, st.parallelism, 100 * st.lock_serialized_fraction, base))
end
dagl.set_lock_mode("global")
