-- delayed_dense.lua -- the article's second example: a custom layer, DelayedDense, whose forward
-- pass is a Dense layer plus a Lua node that waits 0.1 s (think: an I/O call or a slow Python
-- op inside a TensorFlow model). Four of them in parallel branches. The question: does the VM
-- lock serialize them? With dagl.sleep (which releases the lock, like time.sleep releases the
-- GIL) they overlap; with dagl.spin (CPU-bound Lua holding the lock) they serialize, unless each
-- worker has a lua_State of its own (per-worker mode). At the end, the same layer as Keras users
-- write it (an nn layer class with add_weight, in a Sequential model with input_shape, and as
-- four branches of a functional model).
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

-- The same layer as Keras users write it: an nn layer class whose weights come from add_weight
-- (Keras's initializer "random_normal"), stacked in a Sequential model with input_shape (so
-- summary() works before any call). Its call() is traced once into graph nodes (the Dense part)
-- plus the Lua node of the delay.
print()
local nn = dagl.nn
local KerasDelayedDense = nn.layer_class("delayed_dense")
function KerasDelayedDense.new(units, wait, opts)
  local self = setmetatable({}, KerasDelayedDense)
  self:init(opts) -- name, trainable, dtype, input_shape: checked like every layer's
  self.units = units
  self.delay = dagl.luaop{name = "delay_" .. wait, forward = wait == "sleep"
    and function(t) require("dagl").sleep(0.1) return t end or function(t) require("dagl").spin(0.1) return t end}
  return self
end
function KerasDelayedDense:build(shape)
  self.w = self:add_weight{name = "kernel", shape = {shape[#shape], self.units}, initializer = "random_normal"}
  self.b = self:add_weight{name = "bias", shape = {self.units}, initializer = "zeros"}
end
function KerasDelayedDense:call(x) return self.delay((x:matmul(self.w) + self.b):relu()) end

local seq = nn.Sequential{
  KerasDelayedDense(64, "sleep", {input_shape = {64}}),
  KerasDelayedDense(64, "sleep"),
  nn.Dense(10, "softmax"),
}
seq:summary()
seq:predict(x) -- trace once
local st = dagl.trace({}, function() seq:predict(x) end)
print(("Sequential of 2 DelayedDense layers (a chain: the delays follow each other): wall %.2f s for 0.20 s of sleep")
  :format(st.wall))

-- The four branches again with the Keras-style layer, as a functional model: they overlap.
local inp = nn.Input{64}
local outs = {}
for i = 1, 4 do outs[i] = KerasDelayedDense(64, "sleep")(inp) end
local branches = nn.Model(inp, nn.Dense(10, "softmax")(nn.Add()(outs)))
branches:predict(x) -- trace once
st = dagl.trace({}, function() branches:predict(x) end)
print(("functional model, 4 DelayedDense branches: wall %.2f s for 0.40 s of sleep, parallelism %.2fx")
  :format(st.wall, st.parallelism))
