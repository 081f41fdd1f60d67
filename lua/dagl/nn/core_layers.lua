--- dagl.nn.core_layers: Dense, Activation, Flatten, LayerNormalization.
local dagl = require "dagl"

local options = require "dagl.options"
local fn = require "dagl.fn"

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

--- nn.LayerNormalization{axis = -1, epsilon = 1e-3, center = true, scale = true}: normalizes over
-- `axis` (a dim or a list of dims, 1-based, not the batch dim; -1 the last), then a learned scale
-- and shift of the normalized dims' shape (Keras's: gamma and beta of shape [d] for axis -1,
-- [t, d] for axis {2, 3}).
nn.LayerNormalization = nn.layer_class("layer_normalization")
-- A dim or a non-empty list of dims, none of them 0 or the batch dim.
local function norm_axes(v)
  local list = type(v) == "table" and v or {v}
  if #list == 0 then return false, "a dim or a list of dims (1-based; -1 the last)" end
  for _, a in ipairs(list) do
    if math.type(a) ~= "integer" or a == 0 then return false, "a dim or a list of dims (1-based; -1 the last)" end
    if a == 1 then
      return false, "dims after the batch dim", "dagl counts dims from 1 and dim 1 is the batch; Keras's axis=1 is dagl's axis = 2"
    end
  end
  return true
end
local layer_norm_options = nn.layer_options("LayerNormalization", {}, {
  {"axis", norm_axes, default = -1, doc = "the normalized dim or dims (1-based; -1 the last; not the batch dim)"},
  {"epsilon", "number", min = 0, default = 1e-3, aliases = {"eps"}},
  {"center", "boolean", default = true}, {"scale", "boolean", default = true}},
  nil)
function nn.LayerNormalization.new(...)
  local o = layer_norm_options:parse(1, ...)
  local self = setmetatable({}, nn.LayerNormalization)
  self:init(o)
  self.axis = type(o.axis) == "table" and {table.unpack(o.axis)} or {o.axis}
  self.epsilon, self.center, self.scale = o.epsilon, o.center, o.scale
  return self
end
function nn.LayerNormalization:build(shape)
  local n, dims, seen = #shape, {}, {}
  for _, a in ipairs(self.axis) do
    local d = a < 0 and a + n + 1 or a
    if d < 2 or d > n then
      error(("LayerNormalization: axis %d is out of range for inputs of shape [%s] (dims 2 to %d, the batch being dim 1)")
        :format(a, table.concat(shape, ", "), n), 0)
    end
    if seen[d] then error(("LayerNormalization: dim %d is given twice in axis"):format(d), 0) end
    seen[d] = true
    dims[#dims + 1] = d
  end
  table.sort(dims)
  local pshape, bshape = {}, {}
  for _, d in ipairs(dims) do pshape[#pshape + 1] = shape[d] end
  for d = dims[1], n do bshape[#bshape + 1] = seen[d] and shape[d] or 1 end
  self._dims, self._bshape = dims, #bshape ~= #pshape and bshape or nil
  if self.scale then self.gamma = self:add_weight("gamma", dagl.ones(pshape)) end
  if self.center then self.beta = self:add_weight("beta", dagl.zeros(pshape)) end
end
function nn.LayerNormalization:call(x)
  local dims = self._dims
  local mean = x:mean(dims, true)
  local var = x:var(dims, true, 0) -- biased, as Keras and PyTorch normalize
  local y = (x - mean) / (var + self.epsilon):sqrt()
  -- a weight reshaped to broadcast (axis {2} of (b, t, d): [t] -> [t, 1]) inside the trace, so
  -- its gradient reaches the weight (an eager reshape would be a new, unconnected tensor)
  local function spread(w)
    if not self._bshape then return w end
    return (dagl.is_symbol(x) and fn.lift(x, w) or w):reshape(self._bshape)
  end
  if self.gamma then y = y * spread(self.gamma) end
  if self.beta then y = y + spread(self.beta) end
  return y
end
