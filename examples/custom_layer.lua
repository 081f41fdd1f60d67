-- custom_layer.lua -- the two ways to write a layer in Lua (docs/custom_layers.md):
--   GatedDense: a class with build(input_shape), add_weight and call(x) composing dagl ops --
--               traced into the step graph, gradients automatic, no VM lock at run time;
--   Softsign:   a learned-scale softsign computed by a dagl.luaop with a hand-written backward --
--               Lua code that runs at every graph execution, under the VM lock.
-- Both are trained on a small synthetic regression. Run: build/dagl examples/custom_layer.lua
local dagl = require "dagl"
local nn = dagl.nn

--- (a) y = (x W + b) * sigmoid(x V + c): a Dense with a learned gate.
local GatedDense = nn.layer_class("gated_dense")
function GatedDense.new(units, opts)
  local self = setmetatable({}, GatedDense)
  self:init(opts) -- name, weights list
  self.units = units
  return self
end
-- Called once, with the first input's shape (batch first), before the first call.
function GatedDense:build(shape)
  local init = nn.initializers.glorot_uniform
  local fan_in = shape[#shape]
  self.w = self:add_weight("w", init(fan_in, self.units, {fan_in, self.units}))
  self.b = self:add_weight("b", dagl.zeros(self.units))
  self.v = self:add_weight("v", init(fan_in, self.units, {fan_in, self.units}))
  self.c = self:add_weight("c", dagl.zeros(self.units))
end
-- x is a traced symbol inside fit/predict (or a real tensor when called eagerly): only dagl ops.
function GatedDense:call(x)
  return (x:matmul(self.w) + self.b) * (x:matmul(self.v) + self.c):sigmoid()
end

--- (b) y = s * x / (1 + |x|) with a learned scale s per feature, forward and backward in Lua.
local softsign = dagl.luaop{
  name = "scaled_softsign",
  forward = function(x, s) return x / (x:abs() + 1) * s end,
  -- gradients of the inputs (x, s) given the output's gradient g (and the inputs and output)
  backward = function(g, x, s)
    local d = x:abs() + 1
    local gx = g * s / (d * d)
    local gs = (g * x / d):sum(1) -- s was broadcast over the batch rows
    return gx, gs
  end,
}
local Softsign = nn.layer_class("softsign")
function Softsign.new(opts)
  local self = setmetatable({}, Softsign)
  self:init(opts)
  return self
end
function Softsign:build(shape) self.s = self:add_weight("s", dagl.ones(shape[#shape])) end
function Softsign:call(x) return softsign(x, self.s) end

-- Trains a small model holding `layer` on y = sum of sin-ish features; returns first and last loss.
local function train(layer, epochs)
  dagl.manual_seed(7)
  math.randomseed(7)
  local x = dagl.randn(256, 4)
  local y = (x:tanh() * dagl.tensor{1, -2, 0.5, 1.5}):sum(2, true)
  local model = nn.Sequential{nn.Dense(8), layer, nn.Dense(1)}
  model:compile{optimizer = nn.Adam{lr = 0.02}, loss = "mse"}
  local h = model:fit(x, y, {epochs = epochs, batch_size = 32, verbose = false})
  return h.loss[1], h.loss[epochs]
end

local results = {}
for name, make in pairs {gated_dense = function() return GatedDense(8) end, softsign = function() return Softsign() end} do
  local first, last = train(make(), 15)
  results[name] = {first = first, last = last}
  print(("%-12s loss %.4f -> %.4f"):format(name, first, last))
end
return {results = results, GatedDense = GatedDense, Softsign = Softsign}
