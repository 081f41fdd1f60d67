--- dagl.nn.core_layers: Dense, Activation, Flatten, LayerNormalization.
local dagl = require "dagl"

local options = require "dagl.options"

local nn = require "dagl.nn.base"
local shared = require "dagl.nn.shared"

--- nn.Dense(units, activation, {use_bias=true, kernel_initializer="glorot_uniform",
-- bias_initializer="zeros", kernel_regularizer=, bias_regularizer=, name=, ...}) or
-- nn.Dense{units = ..., activation = ...} (Keras's forms).
nn.Dense = nn.layer_class("dense")
local dense_options = nn.layer_options("Dense", {"units", "activation"}, {
  {"units", "integer", min = 1, required = true, doc = "the output width"},
  table.unpack(shared.KERNEL_OPTIONS)}, {units = 2})
function nn.Dense.new(...)
  local o = dense_options:parse(1, ...)
  local self = setmetatable({}, nn.Dense)
  self:init(o)
  self.units = o.units
  self:kernel_options(o)
  return self
end

function nn.Dense:build(shape)
  if #shape == 0 then error("Dense: expects inputs with at least 1 dim (features last), got a scalar", 2) end
  self:add_kernel({shape[#shape], self.units})
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

--- nn.Activation(activation): an activation (a name of nn.activations or a function) as a layer.
nn.Activation = nn.layer_class("activation")
local activation_options = nn.layer_options("Activation", {"activation"}, {
  {"activation", "activation", required = true}}, {activation = "relu"})
function nn.Activation.new(...)
  local o = activation_options:parse(1, ...)
  local self = setmetatable({}, nn.Activation)
  self:init(o)
  self.fn = nn.activation(o.activation)
  return self
end
function nn.Activation:call(x) return self.fn(x) end

--- nn.Flatten(): keeps the batch dim, flattens the rest.
nn.Flatten = nn.layer_class("flatten")
local flatten_options = nn.layer_options("Flatten", {}, {
  {"data_format", "string", default = "channels_last", unsupported = "inputs are channels-last in dagl"}}, nil)
function nn.Flatten.new(...)
  local self = setmetatable({}, nn.Flatten)
  self:init(flatten_options:parse(1, ...))
  return self
end
function nn.Flatten:call(x) return x:reshape(x.shape[1], -1) end
function nn.Flatten:output_shape(shape)
  local n = 1
  for i = 2, #shape do n = n * shape[i] end
  return {shape[1], n}
end

--- nn.LayerNormalization{epsilon=1e-3, center=true, scale=true}: normalizes the last dim, then a
-- learned scale and shift.
nn.LayerNormalization = nn.layer_class("layer_normalization")
local layer_norm_options = nn.layer_options("LayerNormalization", {}, {
  {"axis", "integer", default = -1, unsupported = "only the last dim (axis = -1) is normalized"},
  {"epsilon", "number", min = 0, default = 1e-3, aliases = {"eps"}},
  {"center", "boolean", default = true}, {"scale", "boolean", default = true}},
  nil)
function nn.LayerNormalization.new(...)
  local o = layer_norm_options:parse(1, ...)
  local self = setmetatable({}, nn.LayerNormalization)
  self:init(o)
  self.epsilon, self.center, self.scale = o.epsilon, o.center, o.scale
  return self
end
function nn.LayerNormalization:build(shape)
  if self.scale then self.gamma = self:add_weight("gamma", dagl.ones(shape[#shape])) end
  if self.center then self.beta = self:add_weight("beta", dagl.zeros(shape[#shape])) end
end
function nn.LayerNormalization:call(x)
  local mean = x:mean(-1, true)
  local var = x:var(-1, true, 0) -- biased, as Keras and PyTorch normalize
  local y = (x - mean) / (var + self.epsilon):sqrt()
  if self.gamma then y = y * self.gamma end
  if self.beta then y = y + self.beta end
  return y
end
