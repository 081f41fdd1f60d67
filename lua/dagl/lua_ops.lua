--- dagl.lua_ops: tensor ops written in Lua over the core's ops and views, so they work on real
-- tensors and traced symbols alike, with the core's gradients: stack, cat, split, chunk, std,
-- tril, triu. install() makes each a module function (dagl.stack(list, dim)) and, where it takes
-- one tensor first, a method (t:split(2)) of tensors and symbols.
local core = require "dagl.core"
local fn = require "dagl.fn"

local M = {}
local user_error = fn.internal.user_error

local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

-- An integer argument (or nil: the default); anything else raises naming the function and argument.
local function int_arg(what, name, v, default)
  if v == nil then return default end
  if math.type(v) ~= "integer" then
    if type(v) == "number" and v == math.floor(v) then return math.tointeger(v) end
    user_error(("%s: %s must be an integer, got %s"):format(what, name, type(v) == "number" and tostring(v) or "a " .. type(v)))
  end
  return v
end

-- A tensor or symbol argument.
local function tensor_arg(what, name, x)
  if not (core.is_tensor(x) or fn.is_symbol(x)) then
    user_error(("%s: %s must be a tensor, got a %s"):format(what, name, type(x)))
  end
  return x
end

-- A 1-based dim (negative from the end) of a tensor of ndim dims (ndim + 1 positions when
-- `insert`: stack's new dim) -> 1-based positive dim; out of range raises.
local function dim_arg(what, d, ndim, insert)
  local n = insert and ndim + 1 or ndim
  d = int_arg(what, "dim", d, 1)
  local pos = d < 0 and d + n + 1 or d
  if d == 0 or pos < 1 or pos > n then
    user_error(("%s: dim %d is out of range for %d dims (1 to %d, or -1 to -%d from the end)"):format(what, d, n, n, n))
  end
  return pos
end

--- dagl.stack(list, dim=1): the tensors (equal shapes) joined along a new dim (torch.stack).
function M.stack(list, dim)
  if type(list) ~= "table" or (core.is_tensor(list) or fn.is_symbol(list)) then
    user_error(("stack: takes a list of tensors, got a %s"):format(type(list)))
  end
  if #list == 0 then user_error("stack: no tensors to join") end
  local first = tensor_arg("stack", "element 1", list[1]).shape
  local d = dim_arg("stack", dim, #first, true)
  local parts = {}
  for i, x in ipairs(list) do
    local s = tensor_arg("stack", "element " .. i, x).shape
    local same = #s == #first
    for k = 1, #first do same = same and s[k] == first[k] end
    if not same then
      user_error(("stack: tensor %d has shape %s and tensor 1 has shape %s: stack needs equal shapes (dagl.concat joins along an existing dim)")
        :format(i, shape_str(s), shape_str(first)))
    end
    parts[i] = x:unsqueeze(d)
  end
  return require("dagl").concat(parts, d)
end

--- dagl.cat(list, dim=1): dagl.concat, under PyTorch's name.
function M.cat(list, dim) return require("dagl").concat(list, dim) end

--- t:split(size, dim=1) / t:split({s1, s2, ...}, dim): views of consecutive pieces along dim,
-- `size` long each (the last one shorter) or the sizes given, which must add up (torch.split).
-- Returns a list.
function M.split(t, sizes, dim)
  tensor_arg("split", "tensor", t)
  local shape = t.shape
  if #shape == 0 then user_error("split: a 0-d tensor has no dim to split") end
  local d = dim_arg("split", dim, #shape)
  local n, out, at = shape[d], {}, 1
  if type(sizes) == "table" then
    local total = 0
    for i, s in ipairs(sizes) do
      s = int_arg("split", ("sizes[%d]"):format(i), s)
      if s < 0 then user_error(("split: sizes[%d] is %d; sizes must not be negative"):format(i, s)) end
      total = total + s
    end
    if total ~= n then
      user_error(("split: the sizes add up to %d, but dim %d has %d elements (shape %s)"):format(total, d, n, shape_str(shape)))
    end
    for i, s in ipairs(sizes) do
      out[i] = t:narrow(d, at, math.tointeger(s))
      at = at + s
    end
    return out
  end
  local size = int_arg("split", "size", sizes)
  if size == nil or size < 1 then
    user_error(("split: size must be a positive integer or a list of sizes, got %s"):format(tostring(sizes)))
  end
  while at <= n do
    local len = math.min(size, n - at + 1)
    out[#out + 1] = t:narrow(d, at, len)
    at = at + len
  end
  if n == 0 then out[1] = t end
  return out
end

--- t:chunk(chunks, dim=1): split into `chunks` pieces of ceil(n / chunks) elements (the last one
-- shorter; fewer pieces when n is small), as torch.chunk. Returns a list.
function M.chunk(t, chunks, dim)
  tensor_arg("chunk", "tensor", t)
  chunks = int_arg("chunk", "chunks", chunks)
  if chunks == nil or chunks < 1 then user_error(("chunk: chunks must be a positive integer, got %s"):format(tostring(chunks))) end
  local shape = t.shape
  if #shape == 0 then user_error("chunk: a 0-d tensor has no dim to split") end
  local d = dim_arg("chunk", dim, #shape)
  return M.split(t, math.max(1, (shape[d] + chunks - 1) // chunks), d)
end

--- t:std(dims?, keepdim?, correction?) / t:std(dims, {keepdim =, correction =}): the standard
-- deviation, sqrt of t:var with the same arguments (Bessel's correction 1 by default).
function M.std(t, ...)
  tensor_arg("std", "tensor", t)
  return t:var(...):sqrt()
end

-- tril / triu: t where the diagonal offset j - i of the last two dims passes keep(offset), else 0.
local function triangle(what, t, diagonal, keep)
  tensor_arg(what, "tensor", t)
  local k = int_arg(what, "diagonal", diagonal, 0)
  local shape = t.shape
  if #shape < 2 then user_error(("%s: needs at least 2 dims, got shape %s"):format(what, shape_str(shape))) end
  local r, c = shape[#shape - 1], shape[#shape]
  local i = core.arange(r, "int64"):reshape(r, 1)
  local j = core.arange(c, "int64"):reshape(1, c)
  return core.where(keep(j - i, k), t, 0)
end

--- t:tril(diagonal=0): the lower triangle of the last two dims (elements with j - i <= diagonal),
-- zeros above it (torch.tril); masks for causal attention.
function M.tril(t, diagonal) return triangle("tril", t, diagonal, function(off, k) return off:le(k) end) end

--- t:triu(diagonal=0): the upper triangle (j - i >= diagonal), zeros below it (torch.triu).
function M.triu(t, diagonal) return triangle("triu", t, diagonal, function(off, k) return off:ge(k) end) end

local methods = {"split", "chunk", "std", "tril", "triu"}

--- Installs the module functions on `dagl` and the methods on tensors and traced symbols.
function M.install(dagl)
  for _, name in ipairs {"stack", "cat", "split", "chunk", "std", "tril", "triu"} do dagl[name] = M[name] end
  for _, name in ipairs(methods) do
    core.Tensor.methods[name] = M[name]
    fn.internal.Sym[name] = M[name]
  end
end

return M
