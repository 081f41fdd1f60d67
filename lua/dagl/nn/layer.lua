--- dagl.nn.layer: the base Layer class, layer_class, initializers, activations and
-- regularizers.
local dagl = require "dagl"
local fn = require "dagl.fn"

local nn = require "dagl.nn.base"
--- The base of every layer: a name, build-once weights, and __call.
local Layer = {}
Layer.__index = Layer
nn.Layer = Layer

--- Declares a layer class: nn.Dense = nn.layer_class("dense").
-- Calling the class makes a layer (nn.Dense(64, {...})); calling a layer runs it.
function nn.layer_class(kind)
  local class = setmetatable({kind = kind}, {__index = Layer, __call = function(cls, ...) return cls.new(...) end})
  class.__index = class
  class.__call = Layer.__call
  return class
end

function Layer:init(opts)
  self.name = opts and opts.name or nn.auto_name(getmetatable(self).kind)
  self.weights = {}
  self.built = false
end

--- Adds a weight (a tensor) to layer.weights; returns it. With {trainable = false} (BatchNorm's
-- moving statistics) it is saved with the model but left alone by optimizers: the entry has
-- trainable = false, and models skip such entries when they collect what to train.
function Layer:add_weight(name, tensor, opts)
  local trainable = not (opts and opts.trainable == false)
  self.weights[#self.weights + 1] = {name = self.name .. "/" .. name, value = tensor, trainable = trainable}
  return tensor
end

--- Adds reg(w) to the training loss (nn.add_loss) while a model traces its training step; x is
-- the layer's traced input, whose trace the weight joins. Shared by every layer with
-- kernel_regularizer= (Dense, and convolutions).
function Layer:regularize(x, w, reg)
  if reg and nn.training and dagl.is_symbol(x) then nn.add_loss(reg(fn.lift(x, w))) end
end

--- The kernel_regularizer and bias_regularizer terms of a layer with a kernel (add_kernel).
function Layer:regularize_kernel(x)
  self:regularize(x, self.kernel, self.kernel_regularizer)
  if self.bias then self:regularize(x, self.bias, self.bias_regularizer) end
end

function Layer:build(input_shape) end

--- Builds on first use (from the input's shape) and runs call(x) with nodes labelled by name.
-- Merge layers (Add, Concatenate) take a list of inputs: build then gets the list of shapes.
function Layer.__call(self, x)
  if nn.keras_input(x) then return nn.keras_call(self, x) end -- functional API (functional.lua)
  local list = type(x) == "table" and not dagl.is_symbol(x)
  if not self.built then
    local shapes = {}
    if list then for i, v in ipairs(x) do shapes[i] = v.shape end end
    -- a failed build leaves no weights behind: the next call builds from scratch
    local nweights = #self.weights
    local ok, err = pcall(self.build, self, list and shapes or x.shape)
    if not ok then
      for i = #self.weights, nweights + 1, -1 do self.weights[i] = nil end
      fn.layer_raise(self.name, err, 2)
    end
    self.built = true
  end
  local sym = dagl.is_symbol(x) and x
  if list then for _, v in ipairs(x) do if dagl.is_symbol(v) then sym = v break end end end
  if sym then return dagl.label(sym, self.name, function() return self:call(x) end) end
  local res = table.pack(pcall(self.call, self, x))
  if not res[1] then fn.layer_raise(self.name, res[2], 2) end
  return table.unpack(res, 2, res.n)
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
  softmax = function(x) return x:softmax(-1) end, -- one fused, max-shifted node
  leaky_relu = function(x) return dagl.where(x:gt(0), x, x * 0.01) end,
  -- exact GELU, x * Phi(x) with the normal CDF through erf (Keras's and PyTorch's default)
  gelu = function(x) return x * 0.5 * (1 + (x * (1 / math.sqrt(2))):erf()) end,
  -- the tanh approximation of GELU (PyTorch's approximate="tanh")
  gelu_tanh = function(x) return x * 0.5 * (1 + ((x + x ^ 3 * 0.044715) * math.sqrt(2 / math.pi)):tanh()) end,
}
nn.activations = activations
nn.initializers = initializers

--- Regularizers: functions of a weight (symbol) giving a scalar added to the training loss, as
-- kernel_regularizer = nn.regularizers.l2(0.01).
nn.regularizers = {
  l2 = function(c) c = c or 0.01 return function(w) return (w * w):sum() * c end end,
  l1 = function(c) c = c or 0.01 return function(w) return w:abs():sum() * c end end,
  l1_l2 = function(c1, c2)
    c1, c2 = c1 or 0.01, c2 or 0.01
    return function(w) return w:abs():sum() * c1 + (w * w):sum() * c2 end
  end,
}
--- Reads the options of layers with a kernel (Dense, Conv2D): activation (default linear),
-- use_bias (default true), kernel_initializer (default glorot_uniform), kernel_regularizer and
-- bias_regularizer (nn.regularizers; default none). `what` names the layer
-- in errors, raised at the caller of the layer's constructor.
function Layer:kernel_options(opts, what)
  self.activation = activations[opts.activation or "linear"]
  if not self.activation then error(("%s: unknown activation '%s'"):format(what, opts.activation), 3) end
  self.use_bias = opts.use_bias ~= false
  self.init_name = opts.kernel_initializer or "glorot_uniform"
  self.kernel_regularizer, self.bias_regularizer = opts.kernel_regularizer, opts.bias_regularizer
end

--- Makes the kernel of `shape` (its last dim the units/filters) with the chosen initializer,
-- and the zero bias when the layer uses one.
function Layer:add_kernel(fan_in, fan_out, shape, what)
  local init = initializers[self.init_name] or error(what .. ": unknown initializer " .. self.init_name)
  self.kernel = self:add_weight("kernel", init(fan_in, fan_out, shape))
  if self.use_bias then self.bias = self:add_weight("bias", dagl.zeros(shape[#shape])) end
end
