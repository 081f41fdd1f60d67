--- dagl.nn.losses: loss objects (traced into the training graph) and one_hot.
--
-- A loss is called as loss(pred, target) (prediction first, the order dagl.nn has always used;
-- Keras's functions take (y_true, y_pred)). Keras's formulas: each loss computes one value per
-- sample (the last dim reduced: a mean of elementwise terms, or a sum over the classes for the
-- cross-entropies), then `reduction` makes the result: "sum_over_batch_size" (the default, the
-- mean of those values; PyTorch's "mean" is the same), "sum", or "none" (the values themselves).
-- By name the cross-entropies take probabilities, as Keras's do; pass logits with the classes,
-- e.g. nn.losses.SparseCategoricalCrossentropy{from_logits = true}.
local dagl = require "dagl"
local fn = require "dagl.fn"
local options = require "dagl.options"

local nn = require "dagl.nn.base"

local EPS = 1e-7 -- Keras's epsilon: probabilities are clipped to [EPS, 1 - EPS] before log

-- Number of rows of a prediction: every dim but the last (the classes) counts.
local function nrows(pred) return pred:numel() / pred.shape[#pred.shape] end

-- Targets given flat (labels (n) for predictions (n, 1)) are shaped like the prediction.
local function align(pred, y)
  if #y.shape ~= #pred.shape and y:numel() == pred:numel() then return y:reshape(pred.shape) end
  return y
end

-- Keras's label smoothing: towards 0.5 for binary targets, towards 1/classes for class rows.
local function smooth_binary(y, ls) return ls > 0 and y * (1 - ls) + 0.5 * ls or y end
local function smooth_classes(y, ls) return ls > 0 and y * (1 - ls) + ls / y.shape[#y.shape] or y end

-- The per-sample formulas, Keras's: f(pred, target, loss) -> one value per row (the last dim
-- reduced); `loss` holds the options (from_logits, label_smoothing, delta).
local per_sample = {
  mean_squared_error = function(p, y) return ((p - y) ^ 2):mean(-1) end,
  mean_absolute_error = function(p, y) return (p - y):abs():mean(-1) end,
  -- logits: max(z, 0) - z*y + log(1 + exp(-|z|)), stable for large |z|
  binary_crossentropy = function(p, y, o)
    y = smooth_binary(y, o.label_smoothing)
    if o.from_logits then return (p:relu() - p * y + ((-p:abs()):exp() + 1):log()):mean(-1) end
    p = p:clamp(EPS, 1 - EPS)
    return (-(y * p:log() + (1 - y) * (1 - p):log())):mean(-1)
  end,
  -- one-hot (or soft) target rows; probabilities are renormalized per row, as Keras does
  categorical_crossentropy = function(p, y, o)
    y = smooth_classes(y, o.label_smoothing)
    local logp = o.from_logits and p:log_softmax(-1) or (p / p:sum(-1, true)):clamp(EPS, 1 - EPS):log()
    return (-(y * logp)):sum(-1)
  end,
  -- 0.5 e^2 where |e| <= delta, delta |e| - 0.5 delta^2 beyond
  huber = function(p, y, o)
    local e = p - y
    local a = e:abs()
    return dagl.where(a:le(o.delta), e * e * 0.5, a * o.delta - 0.5 * o.delta ^ 2):mean(-1)
  end,
  mean_squared_logarithmic_error = function(p, y)
    return (((p:maximum(EPS) + 1):log() - (y:maximum(EPS) + 1):log()) ^ 2):mean(-1)
  end,
  -- both clipped to [EPS, 1]
  kl_divergence = function(p, y)
    local yc, pc = y:clamp(EPS, 1), p:clamp(EPS, 1)
    return (yc * (yc / pc):log()):sum(-1)
  end,
  -- targets -1/1; 0/1 targets are made -1/1 when every target is 0 or 1 (Keras's rule)
  hinge = function(p, y)
    local binary = (y * (1 - y)):abs():sum():eq(0)
    local t = dagl.where(binary, y * 2 - 1, y)
    return (1 - t * p):relu():mean(-1)
  end,
}

-- The reductions: values (one per sample) -> the loss. A scalar stays as it is (Keras's rule).
local function reduce(values, reduction)
  if reduction == "none" or type(values) == "number" or #values.shape == 0 then return values end
  if reduction == "sum" then return values:sum() end
  return values:mean()
end

local Loss = {}
Loss.__index = Loss

-- Integer labels for a sparse loss called directly (Keras's scce(labels, probs)) are made the
-- one-hot rows fit makes of them; inside fit they arrive as rows already.
local function sparse_rows(self, pred, y)
  local is_list = type(y) == "table" and not dagl.is_tensor(y) and not dagl.is_symbol(y)
  if self.kind ~= "sparse" or not (is_list or dagl.is_tensor(y)) then return y end
  local n = is_list and #y or y:numel()
  local classes = pred.shape[#pred.shape]
  if n ~= nrows(pred) or (not is_list and y:numel() == pred:numel()) then return y end
  return nn.one_hot(y, classes)
end

--- loss:per_sample(pred, target) -> the values before the reduction: one per row (the last dim
-- reduced, as Keras's losses do); for a function loss, what the function returns.
function Loss:per_sample(pred, y)
  if self.kind == "custom" then return self.fn(pred, y) end
  local t = align(pred, sparse_rows(self, pred, y))
  if not fn.internal.same_shape(pred.shape, t.shape) then
    error(("loss %s: predictions of shape [%s] do not match targets of shape [%s]%s"):format(self.name,
      table.concat(pred.shape, ", "), table.concat(t.shape, ", "),
      self.kind == "sparse" and " (one-hot rows of the labels)" or ""), 0)
  end
  local values = self.fn(pred, t, self)
  if self.ignore_class == nil then return values end
  -- ignore_class: the rows whose label is that class count for nothing (PyTorch's ignore_index)
  local k = self.ignore_class
  local classes = t.shape[#t.shape]
  if k < 0 or k >= classes then
    error(("loss %s: ignore_class = %d is not a class of predictions with %d classes (0 to %d)"):format(self.name,
      k, classes, classes - 1), 0)
  end
  local keep = 1 - t:select(#t.shape, k + 1)
  return values * keep, keep
end

-- The reduction, where ignored rows (ignore_class) leave the mean: a sum over the rows kept
-- divided by how many there are (at least 1).
local function reduce_kept(values, keep, reduction)
  if not keep or reduction ~= "sum_over_batch_size" then return reduce(values, reduction) end
  return values:sum() / keep:sum():maximum(1)
end

--- loss(pred, target): the per-sample values reduced by the loss's reduction (a scalar, or the
-- values themselves with reduction = "none").
function Loss:__call(pred, y)
  local values, keep = self:per_sample(pred, y)
  return reduce_kept(values, keep, self.reduction)
end

--- loss:training_value(pred, target) -> scalar: what fit minimizes and reports: the reduced
-- value, or with reduction = "none" the mean of the per-sample values (as Keras's compile does).
function Loss:training_value(pred, y)
  local r = self.reduction == "none" and "sum_over_batch_size" or self.reduction
  local values, keep = self:per_sample(pred, y)
  return reduce_kept(values, keep, r)
end

function Loss:__tostring()
  return ("dagl.nn loss %s%s%s"):format(self.name, self.from_logits and " (from logits)" or "",
    self.reduction ~= "sum_over_batch_size" and (" (reduction " .. self.reduction .. ")") or "")
end

--- loss:get_config() -> {class_name =, config =}: what nn.losses.get takes to make it again.
function Loss:get_config()
  if not self.class_name then error(("loss %s: a function loss has no config"):format(self.name), 2) end
  local config = {}
  for k, v in pairs(self.config) do config[k] = v end
  return {class_name = self.class_name, config = config}
end

-- ---------------------------------------------------------------------------------------------
-- The classes, their options declared (Keras's names, order and defaults).

-- Keras's reductions; false is Keras's None (Lua's nil means "not given"), PyTorch's "mean" and
-- Keras's "mean_with_sample_weight" (with no sample weights) are sum_over_batch_size.
local REDUCTIONS = {"sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight"}
local reduction_words = options.enum(REDUCTIONS)
local function reduction_type(v)
  if v == false then return true, "none" end
  local ok, what, hint = reduction_words(v)
  if not ok then return false, what .. " (or false, Keras's None)", hint end
  if v == "mean" or v == "mean_with_sample_weight" then return true, "sum_over_batch_size" end
  return true
end

local OPTION = {
  from_logits = {"from_logits", "boolean", default = false,
                 doc = "the predictions are logits (raw scores) rather than probabilities"},
  label_smoothing = {"label_smoothing", "number", min = 0, max = 1, default = 0,
                     doc = "targets become y*(1-ls) + ls/classes (binary: + 0.5*ls)"},
  axis = {"axis", "integer", default = -1, unsupported = "the classes are the last dim in dagl"},
  reduction = {"reduction", reduction_type, default = "sum_over_batch_size",
               doc = "sum_over_batch_size (alias mean), sum, or none/false (one value per sample)"},
  name = {"name", "string", doc = "the loss's name (in messages)"},
  dtype = {"dtype", "string", unsupported = "the loss is computed in the predictions' dtype"},
  ignore_class = {"ignore_class", "integer",
                  doc = "a label (0-based) whose rows count for nothing: padding (the mean is over the other rows)"},
  delta = {"delta", "number", above = 0, default = 1.0, doc = "where the loss turns from quadratic to linear"},
}

local L = {}
nn.losses = L

-- Declares a loss class from {class, name = Keras's default name, formula, kind (what the
-- targets are: "sparse" labels are made one-hot rows before the graph runs, see Model:fit; the
-- kind picks the "accuracy" metric), options = {...}, positional = Keras's order}.
local CLASSES = {} -- constructor -> class name
local function loss_class(c)
  local spec = {name = c[1], path = "nn.losses." .. c[1], positional = c.positional,
                probe = function(o) return L[c[1]](o) end}
  for _, n in ipairs(c.options) do spec[#spec + 1] = OPTION[n] end
  local decl = options.declare(spec)
  L[c[1]] = function(...)
    local o = decl:parse(1, ...)
    return setmetatable({class_name = c[1], name = o.name or c.name, fn = per_sample[c.formula], kind = c.kind,
                         from_logits = o.from_logits == true, label_smoothing = o.label_smoothing or 0,
                         reduction = o.reduction, delta = o.delta, ignore_class = o.ignore_class,
                         config = options.given(o)}, Loss)
  end
  CLASSES[L[c[1]]] = c[1]
end

local PLAIN = {"reduction", "name", "dtype"}
local CROSSENTROPY = {"from_logits", "label_smoothing", "axis", "reduction", "name", "dtype"}
local function regression(class, name, formula)
  loss_class{class, name = name, formula = formula or name, kind = "regression", options = PLAIN, positional = PLAIN}
end
regression("MeanSquaredError", "mean_squared_error")
regression("MeanAbsoluteError", "mean_absolute_error")
regression("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error")
regression("KLDivergence", "kl_divergence")
regression("Hinge", "hinge")
loss_class{"Huber", name = "huber_loss", formula = "huber", kind = "regression",
           options = {"delta", "reduction", "name", "dtype"}, positional = {"delta", "reduction", "name", "dtype"}}
loss_class{"BinaryCrossentropy", name = "binary_crossentropy", formula = "binary_crossentropy", kind = "binary",
           options = CROSSENTROPY, positional = CROSSENTROPY}
loss_class{"CategoricalCrossentropy", name = "categorical_crossentropy", formula = "categorical_crossentropy",
           kind = "categorical", options = CROSSENTROPY, positional = CROSSENTROPY}
-- integer labels 0..n-1 (a tensor or a Lua list); label_smoothing (not Keras's: PyTorch's
-- CrossEntropyLoss's) smooths their one-hot rows
loss_class{"SparseCategoricalCrossentropy", name = "sparse_categorical_crossentropy",
           formula = "categorical_crossentropy", kind = "sparse",
           options = {"from_logits", "ignore_class", "reduction", "name", "dtype", "label_smoothing"},
           positional = {"from_logits", "ignore_class", "reduction", "name", "dtype"}}

-- Keras's function-style names: instances with the default options, named as written.
local INSTANCES = {
  mse = "MeanSquaredError", mean_squared_error = "MeanSquaredError",
  mae = "MeanAbsoluteError", mean_absolute_error = "MeanAbsoluteError",
  mean_squared_logarithmic_error = "MeanSquaredLogarithmicError", huber = "Huber",
  kl_divergence = "KLDivergence", hinge = "Hinge",
  binary_crossentropy = "BinaryCrossentropy", categorical_crossentropy = "CategoricalCrossentropy",
  sparse_categorical_crossentropy = "SparseCategoricalCrossentropy",
}
for name, class in pairs(INSTANCES) do L[name] = L[class]{name = name} end
-- Keras's short names that get() also takes (not fields): the instance each stands for
local SHORT = {bce = "binary_crossentropy", kld = "kl_divergence", msle = "mean_squared_logarithmic_error",
               MSE = "mse", MAE = "mae", BCE = "binary_crossentropy", KLD = "kl_divergence",
               MSLE = "mean_squared_logarithmic_error"}

-- The message for a name that is no loss: the nearest name, then the function-style names and
-- the class names.
local function unknown_loss(spec)
  local lower, classes, all = {}, {}, {}
  for k in pairs(INSTANCES) do lower[#lower + 1] = k end
  for _, class in pairs(CLASSES) do classes[#classes + 1] = class end
  table.sort(lower)
  table.sort(classes)
  -- a capitalized word is nearest to a class name first (CategoricalCrossEntropy)
  local capital = type(spec) == "string" and spec:match("^%u") ~= nil
  for _, list in ipairs(capital and {classes, lower} or {lower, classes}) do
    for _, k in ipairs(list) do all[#all + 1] = k end
  end
  for k in pairs(SHORT) do all[#all + 1] = k end
  local near = type(spec) == "string" and options.nearest(spec, all)
  return ("unknown loss %s (%slosses: %s; or a class name: %s)"):format(options.show(spec),
    near and ("did you mean '" .. near .. "'? ") or "", table.concat(lower, ", "), table.concat(classes, ", "))
end

--- The loss object for a name (Keras's function or class names: "mse", "mean_squared_error",
-- "MeanSquaredError", "bce", ...), a loss object, a class (nn.losses.Huber: made with its
-- defaults), a config {class_name =, config =}, or a function(pred, target) (kind "custom": its
-- value, averaged when it is not a scalar); anything else raises, naming the nearest name.
function nn.losses.get(spec)
  if getmetatable(spec) == Loss then return spec end
  if CLASSES[spec] then return spec() end
  if options.callable(spec) then
    return setmetatable({name = "custom", fn = spec, kind = "custom", reduction = "sum_over_batch_size"}, Loss)
  end
  if type(spec) == "string" then
    local v = rawget(L, SHORT[spec] or spec)
    if getmetatable(v) == Loss then return v end
    if CLASSES[v] then return v() end
    error(unknown_loss(spec), 2)
  end
  if type(spec) == "table" and getmetatable(spec) == nil and spec.class_name ~= nil then
    local make = rawget(L, spec.class_name)
    if not CLASSES[make] then error(unknown_loss(spec.class_name), 2) end
    return make(spec.config or {})
  end
  error(("a loss must be a name, a loss object, {class_name =, config =} or a function(pred, target), got %s")
    :format(options.show(spec)), 2)
end

--- One-hot rows (float32) of integer class labels 0..n-1 given as a tensor or a (nested) table
-- of any shape: the result has the labels' shape and n more (labels of shape (n, 1), as Keras
-- takes them, give (n, classes)). A label outside 0..n-1 raises naming it and its place.
function nn.one_hot(labels, n)
  local t = labels
  if type(t) == "table" and not dagl.is_tensor(t) then
    local ok, made = pcall(dagl.tensor, t, "int64")
    if not ok then error(("one_hot: the labels must be integers, a tensor or a (nested) list of them: %s"):format(made), 2) end
    t = made
  end
  local shape = t.shape
  if #shape == 2 and shape[2] == 1 then t, shape = t:reshape(shape[1]), {shape[1]} end
  if t:dtype() ~= "int64" then
    local f = t:to("float64")
    if t:dtype() ~= "uint8" and f:eq(f:floor_divide(1)):sum():item() ~= f:numel() then
      error("one_hot: the labels must be integers", 2)
    end
    t = t:to("int64")
  end
  if t:numel() > 0 then
    local lo, hi = t:min():item(), t:max():item()
    if lo < 0 or hi >= n then
      local flat = t:reshape(-1)
      local bad = flat:lt(0) + flat:ge(n)
      local i = bad:argmax():item()
      error(("one_hot: label %d at %d is not in 0..%d"):format(flat[i], i, n - 1), 2)
    end
  end
  -- labels (..., 1) == classes (1, ..., 1, n); the temporaries are closed at once (fit calls this
  -- per batch, and dead tensors must not wait for the collector: spec/fit_memory_spec.lua)
  local ones, cols = {}, {table.unpack(shape)}
  for _ = 1, #shape do ones[#ones + 1] = 1 end
  ones[#ones + 1] = n
  cols[#cols + 1] = 1
  local range <close> = dagl.arange(n, "int64")
  local classes <close> = range:reshape(ones)
  local column <close> = t:reshape(cols)
  local hit <close> = column:eq(classes)
  return hit:to("float32")
end
