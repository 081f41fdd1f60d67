--- dagl.nn.layer: the base Layer class, layer_class, the options every layer takes, weights
-- (add_weight, initializers applied) and the check that no tensor field escapes the weights.
local dagl = require "dagl"
local fn = require "dagl.fn"
local options = require "dagl.options"

local nn = require "dagl.nn.base"
local shared = require "dagl.nn.shared"
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

--- The options every layer takes (Keras's base Layer arguments), declared once and appended to
-- each layer's own declaration (nn.layer_options).
shared.COMMON_LAYER_OPTIONS = {
  {"name", "string", doc = "the layer's name (default: kind_N)"},
  {"trainable", "boolean", default = true, doc = "false freezes every weight of the layer"},
  {"dtype", options.enum {"float32", "float64"}, default = "float32",
   doc = "the dtype of the weights; inputs of another float dtype are cast to it"},
  {"input_shape", "shape", doc = "the input's shape without the batch dim: a Sequential model starting with this layer is built at once (summary() works)"},
}

--- Declares the options of a layer class: its own (a list of option specs, see dagl.options),
-- then the common ones; positional is Keras's order of positional arguments; example holds the
-- required options of a valid call (specs probe nn[name] with it, see dagl.options).
function nn.layer_options(name, positional, own, example)
  local spec = {name = name, path = "nn." .. name, positional = positional, example = example,
                probe = function(o) return nn[name](o) end}
  for _, o in ipairs(own) do spec[#spec + 1] = o end
  for _, o in ipairs(shared.COMMON_LAYER_OPTIONS) do spec[#spec + 1] = o end
  return options.declare(spec)
end

local base_options = options.declare {name = "Layer:init", path = "layer:init",
  probe = function(o) local l = setmetatable({}, nn.Dense) l:init(o) return l end,
  table.unpack(shared.COMMON_LAYER_OPTIONS)}

--- Sets up a layer from its checked options (what nn.layer_options' declaration gave) or from a
-- custom layer's table of the common options (name, trainable, dtype, input_shape), which is
-- checked here: layer:init(opts) in a custom layer's new.
function Layer:init(opts)
  -- the common options alone: what else the constructor took is not known (get_config says so)
  self._partial_config = not options.is_checked(opts) or nil
  if not options.is_checked(opts) then opts = base_options:check(opts, 2) end
  self.name = opts.name or nn.auto_name(getmetatable(self).kind)
  self.weights = {}
  self.built = false
  self.trainable = opts.trainable
  if opts.given.dtype then self.dtype = opts.dtype end
  self.input_shape = opts.input_shape
  self.config = options.given(opts)
end

-- A copy of a config: tables copied all the way down (shapes, kernel sizes).
local function deep_copy(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return out
end

--- layer:get_config() -> the options that rebuild the layer: Class(config) (or
-- Class.from_config(config)) makes the same layer (model:save writes it). The default is the
-- options the caller gave, as the layer's declaration checked them (layer.config); a custom
-- layer whose constructor passed layer:init only the common options (name, trainable, dtype,
-- input_shape) must define its own get_config, since what else its constructor took is unknown.
function Layer:get_config()
  if self._partial_config then
    error(("layer '%s': get_config: the layer's constructor gave layer:init only the common options, so what else it took is not known: define get_config() in its class, returning a table of options that its constructor (or a from_config(config) function of the class) takes back, e.g. {units = self.units, name = self.name} (just self.config when it takes no other option)")
      :format(self.name), 2)
  end
  return deep_copy(self.config)
end

-- Keras's fans of a weight shape: (in, out) for a matrix, times the receptive field for a
-- convolution kernel (kh, kw, in, out).
local function fans(shape)
  local n = #shape
  if n == 0 then return 1, 1 end
  if n == 1 then return shape[1], shape[1] end
  local receptive = 1
  for i = 1, n - 2 do receptive = receptive * shape[i] end
  return shape[n - 1] * receptive, shape[n] * receptive
end
shared.fans = fans

--- The tensor of an initializer (a name of nn.initializers or a function(shape, dtype)) for a
-- shape and dtype.
function nn.initialize(init, shape, dtype)
  local f = type(init) == "string" and nn.initializers[init] or init
  local t = f(shape, dtype or "float32")
  if not dagl.is_tensor(t) then error(("initializer returned %s, not a tensor"):format(options.show(t)), 2) end
  if not fn.internal.same_shape(t.shape, shape) then
    error(("initializer returned a tensor of shape [%s] for the shape [%s]"):format(table.concat(t.shape, ", "),
      table.concat(shape, ", ")), 2)
  end
  return t:dtype() == (dtype or "float32") and t or t:to(dtype or "float32")
end

local add_weight_options = options.declare {name = "add_weight", path = "layer:add_weight",
  positional = {"name", "value"},
  probe = function(o) local l = setmetatable({}, nn.Dense) l:init() return l:add_weight(o) end,
  example = function() return {name = "w", value = dagl.zeros(2)} end,
  {"name", "string", doc = "the weight's name within the layer (saved as layer_name/name)"},
  {"value", "tensor", doc = "the tensor itself (dagl's form); or give shape and initializer (Keras's form)"},
  {"shape", {"shape", options.simple(function(v) return type(v) == "table" and #v == 0 end, "{} (a scalar)")},
   doc = "Keras's form: the weight's shape"},
  {"initializer", "initializer", doc = "Keras's form: a name of nn.initializers or a function(shape, dtype) (default glorot_uniform)"},
  {"trainable", "boolean", default = true, doc = "false: saved with the model, left alone by optimizers"},
  {"regularizer", "regularizer", doc = "a regularizer of the weight added to the training loss"},
  {"dtype", options.enum {"float32", "float64"}, doc = "default: the layer's dtype"},
}

--- Adds a weight to layer.weights and returns its tensor. dagl's form add_weight(name, tensor,
-- {trainable =}); Keras's form add_weight{name =, shape =, initializer = "random_normal",
-- trainable =, regularizer =, dtype =} (or add_weight(name, {shape =, ...})). With
-- trainable = false (BatchNorm's moving statistics) it is saved with the model but left alone by
-- optimizers. A layer with a dtype keeps its weights in it.
function Layer:add_weight(...)
  local o = add_weight_options:parse(1, ...)
  local dtype = o.dtype or self.dtype or "float32"
  local t = o.value
  if t == nil then
    if o.shape == nil then
      error(("add_weight%s: give the tensor (add_weight(name, tensor)) or its shape (add_weight{shape = {...}, initializer = ...})")
        :format(o.name and (" '" .. o.name .. "'") or ""), 2)
    end
    t = nn.initialize(o.initializer or "glorot_uniform", o.shape, dtype)
  elseif o.shape or o.initializer then
    error("add_weight: give either a tensor or shape/initializer, not both", 2)
  elseif self.dtype and t:dtype() ~= self.dtype and t:dtype() ~= "int64" then
    t = t:to(self.dtype)
  end
  local name = o.name or ("weight_" .. (#self.weights + 1))
  self.weights[#self.weights + 1] = {name = self.name .. "/" .. name, value = t, trainable = o.trainable}
  if o.regularizer then
    self.weight_regularizers = self.weight_regularizers or {}
    self.weight_regularizers[#self.weight_regularizers + 1] = {t, nn.regularizer(o.regularizer)}
  end
  return t
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

-- Raises when a field of the layer holds a tensor that is not one of its weights (the PyTorch
-- habit self.w = dagl.randn(...)): such a tensor would never be trained nor saved. Fields named
-- with a leading "_" are left out on purpose.
local function check_fields(self)
  local known = {}
  for _, w in ipairs(self.weights) do known[w.value] = true end
  for k, v in pairs(self) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" then
      local list = type(v) == "table" and getmetatable(v) == nil and v or {v}
      for i, t in ipairs(list) do
        if dagl.is_tensor(t) and not known[t] then
          local field = list == v and ("%s[%d]"):format(k, i) or k
          error(("field '%s' holds a tensor of shape [%s] that is not a weight of the layer: it would never be trained or saved; make it with self:add_weight(\"%s\", tensor) (or self:add_weight{name = \"%s\", shape = {...}, initializer = \"random_normal\"}; trainable = false for a constant), or name the field \"_%s\" to keep it out of the model")
            :format(field, table.concat(t.shape, ", "), k, k, k), 0)
        end
      end
    end
  end
end

-- The input cast to the layer's dtype (Keras's autocast) when the layer has one and x is a
-- float or uint8 tensor or symbol of another dtype (uint8 images are cast without scaling, as
-- Keras casts a model's inputs; nn.Rescaling, whose class sets casts_itself, scales them in the
-- same pass instead).
local function autocast(self, x)
  local dt = self.dtype
  if not dt or self.casts_itself or type(x) ~= "table" and type(x) ~= "userdata" or not x.shape then return x end
  local xt = x:dtype()
  if xt ~= dt and xt ~= "int64" then return x:to(dt) end
  return x
end

--- Builds the layer for an input shape (batch first) unless it is built: the weights of
-- build(shape), then the check that no field holds a tensor that is not a weight. A failed build
-- leaves no weights behind, so the next call builds from scratch.
function Layer:ensure_built(shape)
  if self.built then return end
  local nweights = #self.weights
  local ok, err = pcall(function()
    self:build(shape)
    check_fields(self)
  end)
  if not ok then
    for i = #self.weights, nweights + 1, -1 do self.weights[i] = nil end
    if dagl.is_interrupt(err) then error(err, 0) end
    error(fn.layer_error(self.name, err), 0)
  end
  self.built = true
  self._build_shape = deep_copy(shape) -- model:save writes it; nn.load_model builds the same weights
end

--- Builds on first use (from the input's shape) and runs call(x) with nodes labelled by name.
-- Merge layers (Add, Concatenate) take a list of inputs: build then gets the list of shapes.
function Layer.__call(self, x, ...)
  if nn.keras_input(x) then return nn.keras_call(self, x) end -- functional API (functional.lua)
  local list = type(x) == "table" and not dagl.is_symbol(x)
  if not list then
    local before = x
    x = autocast(self, x)
    if x ~= before and nn.masks[before] then nn.masks[x] = nn.masks[before] end -- the mask goes along
  end
  if not self.built then
    local shapes = {}
    if list then for i, v in ipairs(x) do shapes[i] = v.shape end end
    local ok, err = pcall(self.ensure_built, self, list and shapes or x.shape)
    if not ok then
      if dagl.is_interrupt(err) then error(err, 0) end -- Ctrl-C goes on as it is, at the user's line
      fn.internal.user_error(err)
    end
  end
  local sym = dagl.is_symbol(x) and x
  if list then for _, v in ipairs(x) do if dagl.is_symbol(v) then sym = v break end end end
  local rest = table.pack(...)
  local function run()
    local ys = table.pack(self:call(x, table.unpack(rest, 1, rest.n)))
    if self.weight_regularizers then
      for _, wr in ipairs(self.weight_regularizers) do self:regularize(sym or x, wr[1], wr[2]) end
    end
    return table.unpack(ys, 1, ys.n) -- every result (MultiHeadAttention's scores too)
  end
  if sym then return dagl.label(sym, self.name, run) end
  local res = table.pack(pcall(run))
  if not res[1] then
    if dagl.is_interrupt(res[2]) then error(res[2], 0) end
    fn.internal.user_error(fn.layer_error(self.name, res[2]))
  end
  return table.unpack(res, 2, res.n)
end

require "dagl.nn.activations"

--- Reads the options of layers with a kernel (Dense, Conv2D) from their checked options:
-- activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer and
-- bias_regularizer.
function Layer:kernel_options(o)
  self.activation = nn.activation(o.activation)
  self.use_bias = o.use_bias
  self.kernel_initializer, self.bias_initializer = o.kernel_initializer, o.bias_initializer
  self.kernel_regularizer = o.kernel_regularizer and nn.regularizer(o.kernel_regularizer)
  self.bias_regularizer = o.bias_regularizer and nn.regularizer(o.bias_regularizer)
end

--- The options of layers with a kernel, declared once for Dense and the convolutions.
shared.KERNEL_OPTIONS = {
  {"activation", "activation", default = "linear", doc = "a name of nn.activations or a function of a tensor"},
  {"use_bias", "boolean", default = true},
  {"kernel_initializer", "initializer", default = "glorot_uniform"},
  {"bias_initializer", "initializer", default = "zeros"},
  {"kernel_regularizer", "regularizer", doc = "e.g. \"l2\" or nn.regularizers.l2(0.01)"},
  {"bias_regularizer", "regularizer"},
}

--- Makes the kernel of `shape` (its last dim the units/filters) and the bias when the layer
-- uses one, with the chosen initializers.
function Layer:add_kernel(shape)
  self.kernel = self:add_weight("kernel", nn.initialize(self.kernel_initializer, shape, self.dtype))
  if self.use_bias then
    self.bias = self:add_weight("bias", nn.initialize(self.bias_initializer, {shape[#shape]}, self.dtype))
  end
end
