--- dagl.lua_ops: tensor ops written in Lua over the core's ops and views, so they work on real
-- tensors and traced symbols alike, with the core's gradients: stack, cat, split, chunk, std,
-- tril, triu, sort, topk, einsum. install() makes each a module function (dagl.stack(list, dim)) and, where it takes
-- one tensor first, a method (t:split(2)) of tensors and symbols.
local core = require "dagl.core"
local fn = require "dagl.fn"
local options = require "dagl.options"

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

-- When any of the operands is a traced symbol, the real tensors among them as symbols of its trace
-- (fn.lift: the same constant a weight is everywhere in the graph). Ops applied to a real tensor
-- alone run eagerly and give a new tensor, cut off from the weight: dagl.grad and fit would find
-- no gradient for it. Returns the list (changed in place).
local function lift_all(list, n)
  local sym
  for i = 1, n do if fn.is_symbol(list[i]) then sym = list[i] break end end
  if sym then
    for i = 1, n do if core.is_tensor(list[i]) then list[i] = fn.lift(sym, list[i]) end end
  end
  return list
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
  list = lift_all(table.move(list, 1, #list, 1, {}), #list)
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


-- A boolean flag: positional, or a field of an options table; anything else raises.
local function flag(what, name, v)
  if v == nil then return false end
  if type(v) ~= "boolean" then user_error(("%s: %s must be true or false, got a %s"):format(what, name, type(v))) end
  return v
end

--- t:sort(dim = -1, descending = false) / t:sort(dim, {descending =, stable =}) -> values,
-- indices (1-based int64), as torch.sort: a stable sort (NaN counts as the largest value); the
-- values are t:gather(dim, indices), so they carry gradients.
function M.sort(t, dim, descending)
  tensor_arg("sort", "tensor", t)
  local idx = t:argsort(dim, descending)
  local d = #t.shape == 0 and -1 or dim_arg("sort", dim or -1, #t.shape)
  if #t.shape == 0 then return t, idx end
  return t:gather(d, idx), idx
end

--- t:topk(k, dim = -1, largest = true, sorted = true) / t:topk(k, {dim =, largest =, sorted =})
-- -> values, indices (1-based int64) of the k largest (smallest when largest = false) along dim,
-- as torch.topk: in order (largest first), ties in index order.
function M.topk(t, k, dim, largest, sorted)
  tensor_arg("topk", "tensor", t)
  if type(dim) == "table" then
    local o = dim
    local names = {"dim", "largest", "sorted"}
    for key in pairs(o) do
      if key ~= "dim" and key ~= "largest" and key ~= "sorted" then
        local near = type(key) == "string" and options.nearest(key, names)
        user_error(("topk: unknown option '%s' (%soptions: dim, largest, sorted)")
          :format(tostring(key), near and ("did you mean '%s'? "):format(near) or ""))
      end
    end
    dim, largest, sorted = o.dim, o.largest, o.sorted
  end
  flag("topk", "sorted", sorted)
  local big = largest == nil or flag("topk", "largest", largest)
  k = int_arg("topk", "k", k)
  local shape = t.shape
  if #shape == 0 then user_error("topk: a 0-d tensor has no dim to take from") end
  local d = dim_arg("topk", dim or -1, #shape)
  if k == nil or k < 0 or k > shape[d] then
    user_error(("topk: k = %s is out of range for dim %d of size %d (shape %s)"):format(tostring(k), d, shape[d], shape_str(shape)))
  end
  local idx = t:argsort(d, big):narrow(d, 1, k)
  return t:gather(d, idx), idx
end

-- einsum ----------------------------------------------------------------------------------

-- The letters of one operand's subscripts ("bij", "...ij") for a tensor of ndim dims: a list of
-- one-character labels, "..." becoming as many labels as the dims it stands for (shared by every
-- operand, right-aligned: "...", the same count everywhere).
local function subscripts(what, spec, ndim, k, ell)
  local labels, pre, post = {}, spec, nil
  local at = spec:find("...", 1, true)
  if at then pre, post = spec:sub(1, at - 1), spec:sub(at + 3) end
  for _, part in ipairs { pre, post } do
    if part:find("[^%a]") then
      user_error(("%s: subscripts '%s' of operand %d: only letters and one '...' are allowed"):format(what, spec, k))
    end
  end
  local explicit = #pre + #(post or "")
  if at then
    local n = ndim - explicit
    if n < 0 then
      user_error(("%s: operand %d has %d dims but subscripts '%s' name %d"):format(what, k, ndim, spec, explicit))
    end
    if ell.n and ell.n ~= n then
      user_error(("%s: '...' stands for %d dims in one operand and %d in another; they must match"):format(what, ell.n, n))
    end
    ell.n = n
  elseif explicit ~= ndim then
    user_error(("%s: operand %d has %d dims but subscripts '%s' name %d"):format(what, k, ndim, spec, explicit))
  end
  for c in pre:gmatch(".") do labels[#labels + 1] = c end
  if at then
    for i = 1, ell.n do labels[#labels + 1] = "." .. i end
    for c in post:gmatch(".") do labels[#labels + 1] = c end
  end
  local seen = {}
  for _, l in ipairs(labels) do
    if seen[l] then
      user_error(("%s: index '%s' appears twice in operand %d ('%s'): diagonals are not supported"):format(what, l, k, spec))
    end
    seen[l] = true
  end
  return labels
end

-- Sums x (labels xl) over the labels `drop` says to drop; returns the result and its labels.
local function sum_out(x, xl, drop)
  local dims, kept = {}, {}
  for i, l in ipairs(xl) do
    if drop(l) then dims[#dims + 1] = i else kept[#kept + 1] = l end
  end
  if #dims == 0 then return x, xl end
  return x:sum(dims), kept
end

-- The permutation (1-based) that puts labels `from` in the order `to` (the same set).
local function order(from, to)
  local at, perm = {}, {}
  for i, l in ipairs(from) do at[l] = i end
  for i, l in ipairs(to) do perm[i] = at[l] end
  return perm
end

-- x (labels xl) permuted to `to`: a view, skipped when nothing moves.
local function permuted(x, xl, to)
  local perm, moves = order(xl, to), false
  for i, p in ipairs(perm) do moves = moves or p ~= i end
  return moves and x:permute(perm) or x
end

-- Two operands contracted as one (batched) matmul: batch labels, a's free ones, the contracted,
-- b's free ones; returns the product and its labels (batch, free a, free b).
local function contract(what, a, al, b, bl, out_set, size)
  local in_a, in_b = {}, {}
  for _, l in ipairs(al) do in_a[l] = true end
  for _, l in ipairs(bl) do in_b[l] = true end
  local batch, fa, con, fb = {}, {}, {}, {}
  for _, l in ipairs(al) do
    if in_b[l] then
      if out_set[l] then batch[#batch + 1] = l else con[#con + 1] = l end
    else
      fa[#fa + 1] = l
    end
  end
  for _, l in ipairs(bl) do if not in_a[l] then fb[#fb + 1] = l end end
  local function prod(ls)
    local n = 1
    for _, l in ipairs(ls) do n = n * size[l] end
    return n
  end
  local nb, na, nc, nf = prod(batch), prod(fa), prod(con), prod(fb)
  local ao = table.move(con, 1, #con, #batch + #fa + 1, table.move(fa, 1, #fa, #batch + 1, table.move(batch, 1, #batch, 1, {})))
  local bo = table.move(fb, 1, #fb, #batch + #con + 1, table.move(con, 1, #con, #batch + 1, table.move(batch, 1, #batch, 1, {})))
  local am = permuted(a, al, ao):reshape(nb, na, nc)
  local bm = permuted(b, bl, bo):reshape(nb, nc, nf)
  local labels, shape = {}, {}
  for _, group in ipairs { batch, fa, fb } do
    for _, l in ipairs(group) do
      labels[#labels + 1] = l
      shape[#shape + 1] = size[l]
    end
  end
  local r = am:matmul(bm)
  if #shape == 0 then return r:reshape({}), labels end
  return r:reshape(shape), labels
end

--- dagl.einsum(equation, a, b, ...): Einstein summation over letter subscripts, as torch.einsum:
-- "ij,jk->ik" (matmul), "bij,bjk->bik", "bhqd,bhkd->bhqk" (attention scores), "i,i->" (dot),
-- "i,j->ij" (outer), "ij->ji", "ij->j" (a sum), "...ij,...jk->...ik"; without "->" the output
-- is the letters used once, in alphabetical order. Two operands at a time become one batched
-- matmul over views (so it traces and differentiates like matmul); more are contracted left to
-- right. A letter twice in one operand (a diagonal, a trace) is not supported and raises.
function M.einsum(eq, ...)
  local what = "einsum"
  if type(eq) ~= "string" then user_error(("%s: the first argument must be the equation string, got a %s"):format(what, type(eq))) end
  local ops = table.pack(...)
  if ops.n == 1 and type(ops[1]) == "table" and not core.is_tensor(ops[1]) and not fn.is_symbol(ops[1]) then
    ops = table.pack(table.unpack(ops[1]))
  end
  if ops.n == 0 then user_error(("%s: no operands"):format(what)) end
  for k = 1, ops.n do tensor_arg(what, ("operand %d"):format(k), ops[k]) end
  lift_all(ops, ops.n)
  local e = eq:gsub("%s", "")
  local lhs, rhs = e:match("^(.-)%->(.*)$")
  lhs = lhs or e
  local specs = {}
  for sp in (lhs .. ","):gmatch("([^,]*),") do specs[#specs + 1] = sp end
  if #specs ~= ops.n then
    user_error(("%s: '%s' has subscripts for %d operand(s), got %d"):format(what, eq, #specs, ops.n))
  end
  local ell, labels, size, count = {}, {}, {}, {}
  for k = 1, ops.n do
    local x = tensor_arg(what, ("operand %d"):format(k), ops[k])
    local shp = x.shape
    labels[k] = subscripts(what, specs[k], #shp, k, ell)
    for i, l in ipairs(labels[k]) do
      if size[l] and size[l] ~= shp[i] then
        local name = l:sub(1, 1) == "." and "a '...' dim" or ("index '%s'"):format(l)
        user_error(("%s: %s has size %d in one operand and %d in operand %d (shape %s)"):format(what, name, size[l], shp[i], k, shape_str(shp)))
      end
      size[l] = shp[i]
      count[l] = (count[l] or 0) + 1
    end
  end
  local out = {}
  if rhs then
    out = subscripts(what, rhs, (rhs:find("...", 1, true) and (ell.n or 0) or 0) + #rhs:gsub("%.%.%.", ""), "(the output)", ell)
    for _, l in ipairs(out) do
      if not size[l] then user_error(("%s: output index '%s' appears in no operand"):format(what, l)) end
    end
  else
    for i = 1, ell.n or 0 do out[#out + 1] = "." .. i end
    local once = {}
    for l, c in pairs(count) do if c == 1 and l:sub(1, 1) ~= "." then once[#once + 1] = l end end
    table.sort(once)
    table.move(once, 1, #once, #out + 1, out)
  end
  local out_set = {}
  for _, l in ipairs(out) do out_set[l] = true end
  -- left to right: a label stays while the output or a later operand needs it
  local function needed_later(k)
    local set = {}
    for l in pairs(out_set) do set[l] = true end
    for j = k + 1, ops.n do for _, l in ipairs(labels[j]) do set[l] = true end end
    return set
  end
  local later = needed_later(1)
  local in_other = {}
  for j = 2, ops.n do for _, l in ipairs(labels[j]) do in_other[l] = true end end
  local acc, al = sum_out(ops[1], labels[1], function(l) return not later[l] and not in_other[l] end)
  for k = 2, ops.n do
    local keep = needed_later(k)
    local b, bl = sum_out(ops[k], labels[k], function(l)
      for _, m in ipairs(al) do if m == l then return false end end
      return not keep[l]
    end)
    acc, al = contract(what, acc, al, b, bl, keep, size)
  end
  acc, al = sum_out(acc, al, function(l) return not out_set[l] end)
  if #out == 0 then return acc end
  return permuted(acc, al, out)
end

local methods = {"split", "chunk", "std", "tril", "triu", "sort", "topk"}

--- Installs the module functions on `dagl` and the methods on tensors and traced symbols.
function M.install(dagl)
  for _, name in ipairs {"stack", "cat", "split", "chunk", "std", "tril", "triu", "einsum", "sort", "topk"} do
    dagl[name] = M[name]
  end
  for _, name in ipairs(methods) do
    core.Tensor.methods[name] = M[name]
    fn.internal.Sym[name] = M[name]
  end
end

return M
