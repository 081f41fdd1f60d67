--- dagl.nn.losses: loss objects (traced into the training graph), metrics and one_hot.
--
-- A loss is called as loss(pred, target) -> scalar (prediction first, the order dagl.nn has
-- always used; Keras's functions take (y_true, y_pred)). By name the cross-entropies take
-- probabilities, as Keras's do; pass logits with the classes, e.g.
-- nn.losses.SparseCategoricalCrossentropy{from_logits = true}.
local dagl = require "dagl"
local fn = require "dagl.fn"

local nn = require "dagl.nn.base"

local EPS = 1e-7 -- Keras's epsilon: probabilities are clipped to [EPS, 1 - EPS] before log

-- Log-softmax over the last dim: the fused op (stable, shifted by the row maximum).
local function log_softmax(z) return z:log_softmax(-1) end

-- Number of rows of a prediction: every dim but the last (the classes) counts.
local function nrows(pred) return pred:numel() / pred.shape[#pred.shape] end

-- Targets given flat (labels (n) for predictions (n, 1)) are shaped like the prediction.
local function align(pred, y)
  if #y.shape ~= #pred.shape and y:numel() == pred:numel() then return y:reshape(pred.shape) end
  return y
end

-- The formulas: fn(pred, target, from_logits) -> scalar.
local formulas = {
  mse = function(pred, y) return ((pred - y) ^ 2):mean() end,
  mae = function(pred, y) return (pred - y):abs():mean() end,
  -- logits: max(z, 0) - z*y + log(1 + exp(-|z|)), stable for large |z|
  binary_crossentropy = function(p, y, logits)
    if logits then return (p:relu() - p * y + ((-p:abs()):exp() + 1):log()):mean() end
    p = p:clamp(EPS, 1 - EPS)
    return -(y * p:log() + (1 - y) * (1 - p):log()):mean()
  end,
  -- one-hot (or soft) target rows; probabilities are renormalized per row, as Keras does
  categorical_crossentropy = function(p, y, logits)
    local logp = logits and log_softmax(p) or (p / p:sum(-1, true)):clamp(EPS, 1 - EPS):log()
    return -(y * logp):sum() / nrows(p)
  end,
}

local Loss = {}
Loss.__index = Loss
-- Targets are aligned to the prediction's shape; built-in losses need them of that shape then.
function Loss:__call(pred, y)
  local t = align(pred, y)
  if self.kind ~= "custom" and not fn.internal.same_shape(pred.shape, t.shape) then
    error(("loss %s: predictions of shape [%s] do not match targets of shape [%s]%s"):format(self.name,
      table.concat(pred.shape, ", "), table.concat(y.shape, ", "),
      self.kind == "sparse" and " (one-hot rows of the labels)" or ""), 0)
  end
  return self.fn(pred, t, self.from_logits)
end
function Loss:__tostring() return ("dagl.nn loss %s%s"):format(self.name, self.from_logits and " (from logits)" or "") end

-- A loss object: kind says what the targets are ("sparse" labels are made one-hot rows before
-- the graph runs, see Model:fit) and picks the "accuracy" metric.
local function loss(name, formula, kind, opts)
  opts = opts or {}
  return setmetatable({name = name, fn = formulas[formula], kind = kind, from_logits = opts.from_logits == true}, Loss)
end

nn.losses = {
  MeanSquaredError = function(o) return loss("mse", "mse", "regression", o) end,
  MeanAbsoluteError = function(o) return loss("mae", "mae", "regression", o) end,
  BinaryCrossentropy = function(o) return loss("binary_crossentropy", "binary_crossentropy", "binary", o) end,
  CategoricalCrossentropy = function(o)
    return loss("categorical_crossentropy", "categorical_crossentropy", "categorical", o)
  end,
  --- integer labels 0..n-1 (a tensor or a Lua list); made one-hot rows before the graph runs
  SparseCategoricalCrossentropy = function(o)
    return loss("sparse_categorical_crossentropy", "categorical_crossentropy", "sparse", o)
  end,
}
local L = nn.losses
L.mse, L.mae = L.MeanSquaredError(), L.MeanAbsoluteError()
L.binary_crossentropy, L.categorical_crossentropy = L.BinaryCrossentropy(), L.CategoricalCrossentropy()
L.sparse_categorical_crossentropy = L.SparseCategoricalCrossentropy()

--- The loss object for a name, a loss object or a function(pred, target) (kind "custom").
function nn.losses.get(spec)
  if getmetatable(spec) == Loss then return spec end
  if type(spec) == "function" then return setmetatable({name = "custom", fn = spec, kind = "custom"}, Loss) end
  local l = type(spec) == "string" and rawget(L, spec)
  if getmetatable(l) ~= Loss then error(("unknown loss '%s'"):format(tostring(spec)), 2) end
  return l
end

--- Metrics: functions(pred, target) -> the batch mean, traced into the step graph like losses.
-- Sparse labels reach them as one-hot rows (the model converts them for a sparse loss).
local function categorical_accuracy(p, y) return p:argmax(-1):eq(y:argmax(-1)):mean() end
nn.metrics = {
  binary_accuracy = function(p, y, threshold) return p:gt(threshold or 0.5):eq(align(p, y)):mean() end,
  categorical_accuracy = categorical_accuracy,
  sparse_categorical_accuracy = categorical_accuracy,
  mse = function(p, y) return formulas.mse(p, align(p, y)) end,
  mae = function(p, y) return formulas.mae(p, align(p, y)) end,
}

--- The metric function for a name (or a function) given the compiled loss: "accuracy" picks
-- binary/categorical/sparse by the loss (binary from logits thresholds at 0), or by the
-- output width when the loss says nothing (1 -> binary).
function nn.metrics.get(spec, loss_obj, out_width)
  if type(spec) == "function" then return spec end
  if spec == "accuracy" or spec == "acc" then
    local kind = loss_obj.kind
    if kind ~= "binary" and kind ~= "categorical" and kind ~= "sparse" then
      kind = out_width == 1 and "binary" or "categorical"
    end
    if kind == "binary" then
      local thr = loss_obj.from_logits and 0 or 0.5
      return function(p, y) return nn.metrics.binary_accuracy(p, y, thr) end
    end
    return categorical_accuracy
  end
  if spec == "sparse_categorical_accuracy" and loss_obj.kind ~= "sparse" then
    error("metric sparse_categorical_accuracy needs a sparse loss (labels are made one-hot for it)", 0)
  end
  local m = rawget(nn.metrics, spec)
  if type(m) ~= "function" or spec == "get" then error(("unknown metric '%s'"):format(tostring(spec)), 0) end
  return m
end

--- One-hot rows (float32) of integer class labels 0..n-1 given as a tensor or a table.
function nn.one_hot(labels, n)
  local t = type(labels) == "table" and labels or labels:totable()
  local out = dagl.zeros(#t, n)
  for i, c in ipairs(t) do
    if type(c) == "table" then c = c[1] end -- labels shaped (n, 1)
    local k = math.tointeger(c)
    if not k or k < 0 or k >= n then error(("one_hot: label %s at %d is not in 0..%d"):format(tostring(c), i, n - 1), 2) end
    out[i][k + 1] = 1
  end
  return out
end
