--- dagl.nn.data: the data a model takes -- a tensor, a list of tensors (several inputs or
-- outputs), or a Lua list of numbers (labels) -- split into batches for fit/evaluate/predict.
local dagl = require "dagl"

local nn = require "dagl.nn.base"
local M = {}

--- Is d a list of tensors (several inputs or outputs) rather than one tensor or a list of numbers?
function M.is_list(d)
  return type(d) == "table" and not dagl.is_tensor(d) and (dagl.is_tensor(d[1]) or dagl.is_symbol(d[1]))
end

--- The shape of a tensor or symbol, or the list of shapes of a list of them.
function M.shapes(x)
  if x.shape then return x.shape end
  local out = {}
  for i, v in ipairs(x) do out[i] = v.shape end
  return out
end

--- The tensors of d as a list (one tensor or Lua list of labels -> a list of one).
function M.list(d) return M.is_list(d) and d or {d} end

-- Applies f to each tensor of a list, or to d itself.
local function each(d, f)
  if not M.is_list(d) then return f(d) end
  local out = {}
  for i, t in ipairs(d) do out[i] = f(t) end
  return out
end

--- Raises (at the caller's caller, level 3) unless d is data a model takes as `what` ("x" or
-- "y"): a tensor, a non-empty list of tensors, or (for y) a Lua list of numbers (labels).
function M.check(d, what, fname)
  if dagl.is_tensor(d) or M.is_list(d) then return end
  if what == "y" and type(d) == "table" and type(d[1]) == "number" then return end
  local got = type(d) == "table" and (d[1] == nil and "an empty table" or "a table of " .. type(d[1]) .. "s")
    or ("a " .. type(d))
  error(("%s: %s must be a tensor or a list of tensors%s, got %s"):format(fname, what,
    what == "y" and " (or a Lua list of labels)" or "", got), 3)
end

--- Number of rows (samples) of d.
function M.nrows(d)
  d = M.list(d)[1]
  return dagl.is_tensor(d) and d.shape[1] or #d
end

--- Rows [i, j] (1-based, inclusive) of d.
function M.rows(d, i, j)
  return each(d, function(t)
    if dagl.is_tensor(t) then return t:slice(1, i, j):contiguous() end
    return table.move(t, i, j, 1, {})
  end)
end

--- The rows of d at the indices idx, in that order (shuffling).
function M.take(d, idx)
  return each(d, function(t)
    local out
    if dagl.is_tensor(t) then
      out = dagl.empty({#idx, table.unpack(t.shape, 2)}, t:dtype())
    else
      out = {}
    end
    for i, k in ipairs(idx) do out[i] = t[k] end
    return out
  end)
end

--- Targets as the step graph takes them: one-hot float rows of n_classes for a sparse loss,
-- float tensors otherwise (Lua lists of numbers become tensors).
function M.targets(y, sparse, n_classes)
  return each(y, function(t)
    if sparse then return nn.one_hot(t, n_classes) end
    if not dagl.is_tensor(t) then return dagl.tensor(t) end
    local dt = t:dtype()
    return (dt == "int64" or dt == "uint8") and t:float() or t
  end)
end

--- Every row of parts (tensors of the same trailing shape) stacked into one tensor.
function M.concat(parts)
  if #parts == 1 then return parts[1] end
  local n = 0
  for _, p in ipairs(parts) do n = n + p.shape[1] end
  local out = dagl.empty({n, table.unpack(parts[1].shape, 2)}, parts[1]:dtype())
  local r = 0
  for _, p in ipairs(parts) do
    out:slice(1, r + 1, r + p.shape[1]):copy(p)
    r = r + p.shape[1]
  end
  return out
end

return M
