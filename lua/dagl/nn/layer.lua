--- dagl.nn.layer: the base Layer class, layer_class, initializers and activations.
local dagl = require "dagl"

local nn = require "dagl.nn.base"
--- The base of every layer: a name, build-once weights, and __call.
local Layer = {}
Layer.__index = Layer
nn.Layer = Layer

local counters = setmetatable({}, {__mode = "k"})

-- A unique name per layer class ("dense_1", "dense_2", ...) within the process.
local function auto_name(class)
  counters[class] = (counters[class] or 0) + 1
  return class.kind .. "_" .. counters[class]
end

--- Declares a layer class: nn.Dense = nn.layer_class("dense").
-- Calling the class makes a layer (nn.Dense(64, {...})); calling a layer runs it.
function nn.layer_class(kind)
  local class = setmetatable({kind = kind}, {__index = Layer, __call = function(cls, ...) return cls.new(...) end})
  class.__index = class
  class.__call = Layer.__call
  return class
end

function Layer:init(opts)
  self.name = opts and opts.name or auto_name(getmetatable(self))
  self.weights = {}
  self.built = false
end

--- Adds a trainable weight made by `init` (a tensor); returns it.
function Layer:add_weight(name, tensor)
  self.weights[#self.weights + 1] = {name = self.name .. "/" .. name, value = tensor}
  return tensor
end

function Layer:build(input_shape) end

--- Builds on first use (from the input's shape) and runs call(x) with nodes labelled by name.
function Layer.__call(self, x)
  if nn.keras_input(x) then return nn.keras_call(self, x) end -- functional API (functional.lua)
  if not self.built then
    self:build(x.shape)
    self.built = true
  end
  if dagl.is_symbol(x) then return dagl.label(x, self.name, function() return self:call(x) end) end
  return self:call(x)
end

-- Glorot/He initializers (Keras's defaults for Dense: glorot_uniform kernel, zero bias).
local initializers = {
  glorot_uniform = function(fan_in, fan_out, shape)
    local limit = math.sqrt(6 / (fan_in + fan_out))
    return dagl.rand(shape) * (2 * limit) - limit
  end,
  he_normal = function(fan_in, _, shape) return dagl.randn(shape) * math.sqrt(2 / fan_in) end,
  zeros = function(_, _, shape) return dagl.zeros(shape) end,
}

local activations = {
  relu = function(x) return x:relu() end,
  tanh = function(x) return x:tanh() end,
  sigmoid = function(x) return x:sigmoid() end,
  linear = function(x) return x end,
  softmax = function(x)
    local e = (x - x:max(-1, true)):exp()
    return e / e:sum(-1, true)
  end,
  leaky_relu = function(x) return dagl.where(x:gt(0), x, x * 0.01) end,
  -- the tanh approximation of GELU (PyTorch's approximate="tanh"; the erf form needs an erf op)
  gelu = function(x) return x * 0.5 * (1 + ((x + x ^ 3 * 0.044715) * math.sqrt(2 / math.pi)):tanh()) end,
}
nn.activations = activations
nn.initializers = initializers
