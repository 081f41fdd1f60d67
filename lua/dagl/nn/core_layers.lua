--- dagl.nn.core_layers: Dense, Activation, Flatten, LayerNormalization.
local dagl = require "dagl"

local nn = require "dagl.nn.base"
local activations = nn.activations

--- nn.Dense(units, {activation=, use_bias=true, kernel_initializer="glorot_uniform",
-- kernel_regularizer=, bias_regularizer=, name=})
nn.Dense = nn.layer_class("dense")
function nn.Dense.new(units, opts)
  opts = opts or {}
  local self = setmetatable({}, nn.Dense)
  self:init(opts)
  self.units = units
  self:kernel_options(opts, "Dense")
  return self
end

function nn.Dense:build(shape)
  if #shape == 0 then error("Dense: expects inputs with at least 1 dim (features last), got a scalar", 2) end
  local fan_in = shape[#shape]
  self:add_kernel(fan_in, self.units, {fan_in, self.units}, "Dense")
end

function nn.Dense:call(x)
  self:regularize_kernel(x)
  local y = x:matmul(self.kernel)
  if self.bias then y = y + self.bias end
  return self.activation(y)
end

function nn.Dense:output_shape(shape)
  local out = {table.unpack(shape)}
  out[#out] = self.units
  return out
end

--- nn.Activation(name)
nn.Activation = nn.layer_class("activation")
function nn.Activation.new(name, opts)
  local self = setmetatable({}, nn.Activation)
  self:init(opts)
  self.fn = activations[name] or error(("Activation: unknown activation '%s'"):format(name), 2)
  return self
end
function nn.Activation:call(x) return self.fn(x) end

--- nn.Flatten(): keeps the batch dim, flattens the rest.
nn.Flatten = nn.layer_class("flatten")
function nn.Flatten.new(opts)
  local self = setmetatable({}, nn.Flatten)
  self:init(opts)
  return self
end
function nn.Flatten:call(x) return x:reshape(x.shape[1], -1) end
function nn.Flatten:output_shape(shape)
  local n = 1
  for i = 2, #shape do n = n * shape[i] end
  return {shape[1], n}
end

--- nn.LayerNormalization{epsilon=1e-3}: normalizes the last dim, then a learned scale and shift.
nn.LayerNormalization = nn.layer_class("layer_normalization")
function nn.LayerNormalization.new(opts)
  opts = opts or {}
  local self = setmetatable({}, nn.LayerNormalization)
  self:init(opts)
  self.epsilon = opts.epsilon or 1e-3
  return self
end
function nn.LayerNormalization:build(shape)
  self.gamma = self:add_weight("gamma", dagl.ones(shape[#shape]))
  self.beta = self:add_weight("beta", dagl.zeros(shape[#shape]))
end
function nn.LayerNormalization:call(x)
  local mean = x:mean(-1, true)
  local var = x:var(-1, true, 0) -- biased, as Keras and PyTorch normalize
  return (x - mean) / (var + self.epsilon):sqrt() * self.gamma + self.beta
end
