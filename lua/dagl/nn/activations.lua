--- dagl.nn.activations: activations, initializers and regularizers by name (Keras's names and
-- formulas), and the option types that accept them (a name, or a function) so that a layer's
-- options are checked when it is made.
local dagl = require "dagl"
local options = require "dagl.options"

local nn = require "dagl.nn.base"
local shared = require "dagl.nn.shared"

-- softplus, log(1 + e^x), without overflow: max(x, 0) + log(1 + e^-|x|).
local function softplus(x) return x:relu() + ((-x:abs()):exp() + 1):log() end
-- e^x - 1 for x <= 0 only (e^min(x, 0)): the branch where() leaves out never overflows, so its
-- gradient stays finite.
local function expm1_neg(x) return x:minimum(0):exp() - 1 end

local SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805

--- Activations: functions of a tensor or symbol, by Keras's names.
local activations = {
  relu = function(x) return x:relu() end,
  tanh = function(x) return x:tanh() end,
  sigmoid = function(x) return x:sigmoid() end,
  linear = function(x) return x end,
  softmax = function(x) return x:softmax(-1) end, -- one fused, max-shifted node
  log_softmax = function(x) return x:log_softmax(-1) end,
  -- Keras 3's default slope is 0.2 (PyTorch's 0.01: use nn.activations.leaky_relu_with(0.01))
  leaky_relu = function(x) return x:maximum(x * 0.2) end,
  elu = function(x) return dagl.where(x:gt(0), x, expm1_neg(x)) end,
  selu = function(x) return dagl.where(x:gt(0), x, expm1_neg(x) * SELU_ALPHA) * SELU_SCALE end,
  -- exact GELU, x * Phi(x) with the normal CDF through erf (Keras's and PyTorch's default)
  gelu = function(x) return x * 0.5 * (1 + (x * (1 / math.sqrt(2))):erf()) end,
  -- the tanh approximation of GELU (PyTorch's approximate="tanh")
  gelu_tanh = function(x) return x * 0.5 * (1 + ((x + x ^ 3 * 0.044715) * math.sqrt(2 / math.pi)):tanh()) end,
  swish = function(x) return x * x:sigmoid() end,
  softplus = softplus,
  softsign = function(x) return x / (x:abs() + 1) end,
  -- Keras 3's: 0 below -3, 1 above 3, x / 6 + 1/2 between
  hard_sigmoid = function(x) return (x * (1 / 6) + 0.5):clamp(0, 1) end,
  relu6 = function(x) return x:clamp(0, 6) end,
  mish = function(x) return x * softplus(x):tanh() end,
  exponential = function(x) return x:exp() end,
}
activations.silu = activations.swish
nn.activations = activations

--- leaky_relu with another slope (PyTorch's default is 0.01).
function nn.leaky_relu_with(slope)
  return function(x) return x:maximum(x * slope) end
end

local function names_of(t)
  local out = {}
  for k, v in pairs(t) do if type(v) == "function" then out[#out + 1] = k end end
  table.sort(out)
  return out
end

-- A type accepting a name of `registry` or a callable; `what` names the kind in messages.
local function named_or_callable(registry, what)
  return function(v)
    if options.callable(v) then return true end
    if type(v) == "string" then
      if type(rawget(registry, v)) == "function" then return true end
      local names = names_of(registry)
      local near = options.nearest(v, names)
      return false, ("the name of %s (%s) or a function"):format(what, table.concat(names, ", ")),
        near and ("did you mean '" .. near .. "'?") or nil
    end
    return false, ("the name of %s or a function"):format(what)
  end
end
options.type("activation", named_or_callable(activations, "an activation"))

--- The function of an activation given by name or as a function.
function nn.activation(spec)
  if type(spec) == "string" then return activations[spec] end
  return spec
end

-- ---------------------------------------------------------------------------------------------
-- Initializers: function(shape, dtype) -> tensor, Keras's formulas. The fans come from the
-- shape (shared.fans); dagl's older form init(fan_in, fan_out, shape) is accepted too.

-- Standard normal values cut at 2 standard deviations (redrawn until inside), Keras's
-- truncated normal.
local function truncated_normal(shape, dtype)
  local z = dagl.randn(shape, dtype)
  for _ = 1, 20 do
    local out = z:abs():gt(2)
    if out:sum():item() == 0 then break end
    z = dagl.where(out, dagl.randn(shape, dtype), z)
  end
  return z
end

local function uniform(shape, dtype, lo, hi) return dagl.rand(shape, dtype) * (hi - lo) + lo end

-- Keras's variance scaling: scale / fan (fan_in, fan_out or their mean), truncated normal
-- (stddev corrected for the cut) or uniform.
local function variance_scaling(scale, mode, dist)
  return function(shape, dtype)
    local fan_in, fan_out = shared.fans(shape)
    local fan = mode == "fan_in" and fan_in or mode == "fan_out" and fan_out or (fan_in + fan_out) / 2
    local var = scale / math.max(1, fan)
    if dist == "uniform" then
      local limit = math.sqrt(3 * var)
      return uniform(shape, dtype, -limit, limit)
    end
    return truncated_normal(shape, dtype) * (math.sqrt(var) / 0.87962566103423978)
  end
end

-- An orthogonal matrix (Keras's orthogonal initializer): QR of a normal matrix by modified
-- Gram-Schmidt on the columns, signs fixed by R's diagonal; shapes beyond 2-d are flattened to
-- (prod of all but the last, last).
local function orthogonal(shape, dtype)
  local cols = shape[#shape]
  local rows = 1
  for i = 1, #shape - 1 do rows = rows * shape[i] end
  local tall = rows >= cols
  local n, k = tall and rows or cols, tall and cols or rows
  local a = dagl.randn({k, n}, "float64") -- k vectors of length n, made orthonormal
  local q = dagl.zeros({k, n}, "float64")
  for j = 1, k do
    local v = a[j]:clone()
    for i = 1, j - 1 do
      local qi = q[i]
      v = v - qi * (v * qi):sum():item()
    end
    local norm = math.sqrt((v * v):sum():item())
    q[j]:copy(v / (norm > 0 and norm or 1))
  end
  local m = tall and q:t() or q
  return m:contiguous():reshape(shape):to(dtype)
end

local initializers = {
  zeros = function(shape, dtype) return dagl.zeros(shape, dtype) end,
  ones = function(shape, dtype) return dagl.ones(shape, dtype) end,
  constant = function(shape, dtype) return dagl.zeros(shape, dtype) end, -- Keras's Constant(0.0)
  random_normal = function(shape, dtype) return dagl.randn(shape, dtype) * 0.05 end,
  random_uniform = function(shape, dtype) return uniform(shape, dtype, -0.05, 0.05) end,
  truncated_normal = function(shape, dtype) return truncated_normal(shape, dtype) * 0.05 end,
  glorot_uniform = variance_scaling(1, "fan_avg", "uniform"),
  glorot_normal = variance_scaling(1, "fan_avg", "normal"),
  he_uniform = variance_scaling(2, "fan_in", "uniform"),
  he_normal = variance_scaling(2, "fan_in", "normal"),
  lecun_uniform = variance_scaling(1, "fan_in", "uniform"),
  lecun_normal = variance_scaling(1, "fan_in", "normal"),
  orthogonal = orthogonal,
}

-- Both calling forms: init(shape, dtype) (Keras's) and init(fan_in, fan_out, shape) (dagl's
-- older one, which custom layers may use).
local function both_forms(f)
  return function(a, b, c)
    if type(a) == "table" then return f(a, b or "float32") end
    return f(c, "float32")
  end
end
nn.initializers = {}
for name, f in pairs(initializers) do nn.initializers[name] = both_forms(f) end

--- Initializers with arguments (Keras's classes): nn.initializers.Constant(value),
-- RandomNormal{mean = 0, stddev = 0.05}, RandomUniform{minval = -0.05, maxval = 0.05}.
local constant_options = options.declare {name = "initializers.Constant", path = "nn.initializers.Constant",
  positional = {"value"}, probe = function(o) return nn.initializers.Constant(o) end,
  {"value", "number", default = 0}}
function nn.initializers.Constant(...)
  local o = constant_options:parse(1, ...)
  return function(shape, dtype) return dagl.full(shape, o.value, dtype or "float32") end
end
local normal_options = options.declare {name = "initializers.RandomNormal", path = "nn.initializers.RandomNormal",
  positional = {"mean", "stddev"}, probe = function(o) return nn.initializers.RandomNormal(o) end,
  {"mean", "number", default = 0}, {"stddev", "number", min = 0, default = 0.05}}
function nn.initializers.RandomNormal(...)
  local o = normal_options:parse(1, ...)
  return function(shape, dtype) return dagl.randn(shape, dtype or "float32") * o.stddev + o.mean end
end
local uniform_options = options.declare {name = "initializers.RandomUniform", path = "nn.initializers.RandomUniform",
  positional = {"minval", "maxval"}, probe = function(o) return nn.initializers.RandomUniform(o) end,
  {"minval", "number", default = -0.05}, {"maxval", "number", default = 0.05}}
function nn.initializers.RandomUniform(...)
  local o = uniform_options:parse(1, ...)
  return function(shape, dtype) return uniform(shape, dtype or "float32", o.minval, o.maxval) end
end

options.type("initializer", named_or_callable(initializers, "an initializer"))

-- ---------------------------------------------------------------------------------------------
-- Regularizers: functions of a weight (symbol) giving a scalar added to the training loss, as
-- kernel_regularizer = nn.regularizers.l2(0.01) or by name ("l2": Keras's default 0.01).
local function factor(c, who)
  if c == nil then return 0.01 end
  if type(c) ~= "number" or c < 0 then
    error(("nn.regularizers.%s: the factor must be a number >= 0, got %s"):format(who, options.show(c)), 3)
  end
  return c
end
nn.regularizers = {
  l2 = function(c) c = factor(c, "l2") return function(w) return (w * w):sum() * c end end,
  l1 = function(c) c = factor(c, "l1") return function(w) return w:abs():sum() * c end end,
  l1_l2 = function(c1, c2)
    c1, c2 = factor(c1, "l1_l2"), factor(c2, "l1_l2")
    return function(w) return w:abs():sum() * c1 + (w * w):sum() * c2 end
  end,
}
options.type("regularizer", named_or_callable(nn.regularizers, "a regularizer"))

--- The function of a regularizer given by name (with Keras's default factor) or as a function.
function nn.regularizer(spec)
  if type(spec) == "string" then return nn.regularizers[spec]() end
  return spec
end

return nn
