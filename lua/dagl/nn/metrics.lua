--- dagl.nn.metrics: metric functions(pred, target) -> the batch mean, traced into the step graph
-- like losses, by Keras's names. Sparse labels reach them as one-hot rows (the model converts
-- them for a sparse loss).
local options = require "dagl.options"

local nn = require "dagl.nn.base"

-- Targets given flat (labels (n) for predictions (n, 1)) are shaped like the prediction.
local function align(pred, y)
  if #y.shape ~= #pred.shape and y:numel() == pred:numel() then return y:reshape(pred.shape) end
  return y
end

local function categorical_accuracy(p, y) return p:argmax(-1):eq(y:argmax(-1)):mean() end

-- Whether the target class is among the k largest scores of its row (ties with the k-th count
-- as in, as Keras's in_top_k): fewer than k scores are strictly above the target's.
local function top_k_categorical_accuracy(p, y, k)
  local target = (p * y):sum(-1, true)
  return p:gt(target):sum(-1):lt(k or 5):mean()
end

local M = {
  binary_accuracy = function(p, y, threshold) return p:gt(threshold or 0.5):eq(align(p, y)):mean() end,
  categorical_accuracy = categorical_accuracy,
  sparse_categorical_accuracy = categorical_accuracy,
  top_k_categorical_accuracy = top_k_categorical_accuracy,
  sparse_top_k_categorical_accuracy = top_k_categorical_accuracy,
  mse = function(p, y) return ((p - align(p, y)) ^ 2):mean() end,
  mae = function(p, y) return (p - align(p, y)):abs():mean() end,
}
M.mean_squared_error, M.mean_absolute_error = M.mse, M.mae
nn.metrics = M

-- The metrics that need a sparse loss (their labels are the one-hot rows made for it).
local SPARSE_ONLY = {sparse_categorical_accuracy = true, sparse_top_k_categorical_accuracy = true}

-- Every name get() takes, sorted.
local function metric_names()
  local out = {"accuracy", "acc"}
  for k, v in pairs(M) do if type(v) == "function" and k ~= "get" and k ~= "list" then out[#out + 1] = k end end
  table.sort(out)
  return out
end

-- nil when name is a metric name, else the message naming the nearest one.
local function unknown(name)
  if type(name) ~= "string" then return nil end
  local names = metric_names()
  for _, n in ipairs(names) do if n == name then return nil end end
  local near = options.nearest(name, names)
  return ("unknown metric '%s' (%smetrics: %s, or a function(pred, target))"):format(name,
    near and ("did you mean '" .. near .. "'? ") or "", table.concat(names, ", "))
end

--- The metric function for a name (or a function) given the compiled loss: "accuracy" picks
-- binary/categorical/sparse by the loss (binary from logits thresholds at 0), or by the
-- output width when the loss says nothing (1 -> binary).
function M.get(spec, loss_obj, out_width)
  if options.callable(spec) then return spec end
  local kind = loss_obj and loss_obj.kind
  if spec == "accuracy" or spec == "acc" then
    if kind ~= "binary" and kind ~= "categorical" and kind ~= "sparse" then
      kind = out_width == 1 and "binary" or "categorical"
    end
    if kind == "binary" then
      local thr = loss_obj and loss_obj.from_logits and 0 or 0.5
      return function(p, y) return M.binary_accuracy(p, y, thr) end
    end
    return categorical_accuracy
  end
  local bad = type(spec) ~= "string" and ("a metric must be a name or a function, got " .. options.show(spec))
    or unknown(spec)
  if bad then error(bad, 2) end
  if SPARSE_ONLY[spec] and kind ~= "sparse" then
    error(("metric %s needs a sparse loss (labels are made one-hot for it)"):format(spec), 2)
  end
  return M[spec]
end

--- compile's metrics argument as a list: nil -> {}, one name or function -> {it}, a list ->
-- a copy; names are checked (the nearest one is named) and anything else raises, at the caller
-- of the function calling list (level 1, the default) or `level` frames above it.
function M.list(spec, level)
  level = (level or 1) + 2
  if spec == nil then return {} end
  local function check(m, where)
    if options.callable(m) then return m end
    if type(m) ~= "string" then
      error(("compile: metrics%s must be a metric name or a function(pred, target), got %s"):format(where,
        options.show(m)), level + 1)
    end
    local bad = unknown(m)
    if bad then error("compile: " .. bad, level + 1) end
    return m
  end
  if type(spec) ~= "table" or getmetatable(spec) ~= nil then return {check(spec, "")} end
  for k in pairs(spec) do
    if math.type(k) ~= "integer" or k < 1 or k > #spec then
      error(("compile: metrics must be a list (metrics by output name are not supported), got the key %s")
        :format(options.show(k)), level)
    end
  end
  local out = {}
  for i, m in ipairs(spec) do out[i] = check(m, "[" .. i .. "]") end
  return out
end
