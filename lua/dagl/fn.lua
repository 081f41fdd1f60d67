--- dagl.fn: trace a Lua function on symbolic tensors into a graph once per input signature
-- (dtypes and shapes), then run the compiled graph -- like tf.function. Inside the traced
-- function the same methods and operators as on real tensors are available; real tensors it
-- touches (weights) become constants of the graph.
local core = require "dagl.core"

local M = {}

local Sym = {}
Sym.__index = Sym
Sym.__name = "dagl.Symbol"

local is_tensor = core.is_tensor

local function is_sym(x) return getmetatable(x) == Sym end

-- Where dagl's own Lua files live ("@.../lua/dagl/"): frames there are the library's.
local LIB = debug.getinfo(1, "S").source:match("^(@.*/)[^/]*$")

--- Raises msg at the nearest caller outside dagl's Lua files (and C), so that an error made while
-- tracing points at the user's line even when tail calls (`return x:matmul(w)`) or layers of
-- the library stand between; the top level when every frame is the library's.
local function user_error(msg)
  local level = 3 -- the caller of the function that called user_error
  while true do
    local info = debug.getinfo(level, "S")
    if not info then error(msg, 0) end
    if info.what ~= "C" and (not LIB or info.source:sub(1, #LIB) ~= LIB) then error(msg, level) end
    level = level + 1
  end
end

local function new_sym(tr, id)
  local dtype, shape = tr.g:info(id)
  return setmetatable({tracer = tr, id = id, _dtype = dtype, shape = shape}, Sym)
end

-- Node id of an operand: a symbol of this trace, or a real tensor made into a constant (once).
local function operand(tr, x)
  if is_sym(x) then
    if x.tracer ~= tr then user_error("dagl.fn: a symbolic tensor from another trace was used") end
    return x.id
  end
  if is_tensor(x) then
    local id = tr.consts[x]
    if not id then
      id = tr.g:constant(x)
      tr.consts[x] = id
    end
    return id
  end
  if type(x) == "number" then
    return tr.g:constant(core.tensor(x))
  end
  user_error(("dagl.fn: expected a tensor or a number, got %s"):format(type(x)))
end

-- Adds a node; a build error (bad shapes) is raised at the traced function's line.
local function node(tr, op, srcs, params)
  local ok, id = pcall(tr.g.node, tr.g, op, srcs, params)
  if not ok then user_error((tostring(id):gsub("^[^:]*:%d+: ", ""))) end
  if tr.label then tr.g:label(id, tr.label) end
  tr.rec[id] = {op = op, srcs = srcs, params = params or {}} -- for dagl.grad
  return new_sym(tr, id)
end

local function unary(op)
  return function(self) return node(self.tracer, op, {self.id}) end
end

-- Binary op with a tensor, symbol or number on either side.
local function binary(op)
  return function(a, b)
    if is_sym(a) then
      if type(b) == "number" then return node(a.tracer, op, {a.id}, {scalar = b}) end
      return node(a.tracer, op, {a.id, operand(a.tracer, b)})
    end
    if type(a) == "number" then return node(b.tracer, op, {b.id}, {scalar = a, scalar_first = true}) end
    return node(b.tracer, op, {operand(b.tracer, a), b.id})
  end
end

-- Lua dims are 1-based; the graph's are 0-based (negative ones count from the end in both).
-- Checked here against self's shape, so that errors name the dims as the user wrote them.
local function dims0(self, dim, what)
  if dim == nil then return {} end
  if type(dim) == "number" then dim = {dim} end
  local n, out, seen = #self.shape, {}, {}
  for i, d in ipairs(dim) do
    local di = math.tointeger(d) -- 2.0 is dim 2, as on real tensors
    local d0 = di and (di > 0 and di - 1 or di + n)
    if not d0 or d0 < 0 or d0 >= n or seen[d0] then
      user_error(("%s: dimension %s is %s for shape [%s]"):format(what, tostring(d),
        d0 and seen[d0] and "repeated" or "out of range", table.concat(self.shape, ", ")))
    end
    seen[d0], out[i] = true, di > 0 and di - 1 or di
  end
  return out
end

local function reduce(op)
  return function(self, dim, keepdim, correction)
    return node(self.tracer, op, {self.id}, {dims = dims0(self, dim, op), keepdim = keepdim, correction = correction})
  end
end

for _, op in ipairs {"neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "erf"} do Sym[op] = unary(op) end
for _, op in ipairs {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "matmul"} do
  Sym[op] = binary(op)
end
for _, op in ipairs {"sum", "mean", "max", "min", "var"} do Sym[op] = reduce(op) end
-- softmax / log_softmax along dim (default the last), one fused node.
for _, op in ipairs {"softmax", "log_softmax"} do
  Sym[op] = function(self, dim) return node(self.tracer, op, {self.id}, {axis = dims0(self, dim or -1, op)[1]}) end
end
-- Indices are 1-based in Lua (as t:argmax() on real tensors gives them): shift the graph's.
for _, op in ipairs {"argmax", "argmin"} do
  local r = reduce(op)
  Sym[op] = function(...) return r(...) + 1 end
end

-- Layout methods, as on real tensors (dims 1-based there, 0-based in the graph).
local function shape_args(...)
  local first = ...
  if type(first) == "table" then return first end
  return {...}
end
function Sym:reshape(...) return node(self.tracer, "reshape", {self.id}, {shape = shape_args(...)}) end
Sym.view = Sym.reshape
function Sym:flatten() return self:reshape(-1) end
function Sym:expand(...) return node(self.tracer, "expand", {self.id}, {shape = shape_args(...)}) end
function Sym:permute(...)
  local order = dims0(self, shape_args(...), "permute")
  for i, d in ipairs(order) do if d < 0 then order[i] = d + #self.shape end end
  return node(self.tracer, "permute", {self.id}, {dims = order})
end
-- t:transpose(d1, d2) (default: the last two dims), t:t()
function Sym:transpose(d1, d2)
  local n = #self.shape
  if n < 2 and d1 == nil then return self end
  local function norm(d, default)
    d = d or default
    dims0(self, d, "transpose") -- checks it
    return d < 0 and d + n + 1 or d
  end
  d1, d2 = norm(d1, n - 1), norm(d2, n)
  local order = {}
  for i = 1, n do order[i] = i end
  order[d1], order[d2] = d2, d1
  return self:permute(order)
end
Sym.t = Sym.transpose
-- unsqueeze(d): a new size-1 dim at position d of the result (1-based, -1 = last)
function Sym:unsqueeze(d)
  local n, shape = #self.shape, {}
  if d < 0 then d = d + n + 2 end
  for i = 1, n + 1 do shape[i] = 1 end
  local j = 1
  for i = 1, n + 1 do if i ~= d then shape[i] = self.shape[j] j = j + 1 end end
  return self:reshape(shape)
end
-- squeeze([d]): drops size-1 dims (all, or dim d)
function Sym:squeeze(d)
  local n, shape = #self.shape, {}
  if d and d < 0 then d = d + n + 1 end
  for i = 1, n do
    if not (self.shape[i] == 1 and (d == nil or d == i)) then shape[#shape + 1] = self.shape[i] end
  end
  return self:reshape(shape)
end

-- The size of dim d (1-based, negative from the end) and d as a 0-based dim.
local function dim_of(self, d, what)
  if d == nil then user_error(("%s: a dimension is needed (shape [%s])"):format(what, table.concat(self.shape, ", "))) end
  local d0 = dims0(self, d, what)[1]
  if d0 < 0 then d0 = d0 + #self.shape end
  return d0, self.shape[d0 + 1]
end

-- t:slice(dim, first, last, step): elements first..last inclusive (1-based, negative from the
-- end), as on real tensors; a view node whose gradient is slice_scatter.
function Sym:slice(dim, first, last, step)
  local d, n = dim_of(self, dim, "slice")
  first, last, step = first or 1, last or -1, step or 1
  local start = first > 0 and first - 1 or first < 0 and first + n or 0
  local stop = last >= 0 and last or last + n + 1
  start = math.max(0, math.min(start, n))
  stop = math.max(start, math.min(stop, n))
  return node(self.tracer, "slice", {self.id}, {axis = d, start = start, stop = stop, step = step})
end

-- t:narrow(dim, first, length), as in Torch7.
function Sym:narrow(dim, first, len)
  local d, n = dim_of(self, dim, "narrow")
  local start = first > 0 and first - 1 or first + n
  if first == 0 or start < 0 or len < 0 or start + len > n then
    user_error(("narrow: elements %d..%d are out of range for dimension %d of size %d (shape [%s])"):format(
      start + 1, start + len, d + 1, n, table.concat(self.shape, ", ")))
  end
  return node(self.tracer, "slice", {self.id}, {axis = d, start = start, stop = start + len, step = 1})
end

-- Rows of a table (tensor or symbol) by int64 ids counting from `base`, as a node of trace tr.
local function gather(tr, table_, idx, base)
  return node(tr, "gather", {operand(tr, table_), operand(tr, idx)}, {index_base = base})
end

-- t:index_select(dim, idx) in trace tr, dim 0-based: rows by 1-based int64 indices (Torch7's
-- convention); along another dim, that dim is moved to the front and back (idx must be 1-D).
local function index_select(tr, t, d, idx)
  if d == 0 then return gather(tr, t, idx, 1) end
  if #idx.shape ~= 1 then
    user_error(("index_select: indices for dimension %d must be 1-D, got [%s]"):format(d + 1, table.concat(idx.shape, ", ")))
  end
  local front = new_sym(tr, operand(tr, t)):transpose(1, d + 1)
  return gather(tr, front, idx, 1):transpose(1, d + 1)
end

function Sym:index_select(dim, idx) return index_select(self.tracer, self, (dim_of(self, dim, "index_select")), idx) end

-- The slices of `table_` (a real tensor) picked by this symbol's ids counting from `base` along
-- 0-based dim d (default 0): what table:index_select(dim, ids) on a real table calls when the ids
-- are traced.
function Sym:rows_of(table_, base, d)
  if (d or 0) == 0 then return gather(self.tracer, table_, self, base) end
  return index_select(self.tracer, table_, d, self)
end

-- A fresh dropout mask (1/(1-rate) or 0) with this symbol's shape and dtype at every run.
function Sym:dropout_mask(rate, seed)
  return node(self.tracer, "dropout_mask", {self.id}, {rate = rate, seed = seed})
end
-- 2-D windows over NHWC images, as on real tensors: x:conv2d(k, {strides=, padding=}),
-- x:max_pool2d({pool_size=2, strides=, padding=}) (a number is the pool size). The node's
-- params carry the window (the gradient rules reuse them).
local function window(opts, pool)
  if type(opts) == "number" then opts = {pool_size = opts} end
  opts = opts or {}
  local size = opts.pool_size
  if pool and size == nil then size = 2 end
  return {pool_size = size, strides = opts.strides, padding = opts.padding}
end
function Sym:conv2d(k, opts)
  return node(self.tracer, "conv2d", {self.id, operand(self.tracer, k)}, window(opts))
end
function Sym:max_pool2d(opts) return node(self.tracer, "max_pool2d", {self.id}, window(opts, true)) end
function Sym:avg_pool2d(opts) return node(self.tracer, "avg_pool2d", {self.id}, window(opts, true)) end

function Sym.clamp(self, lo, hi) return node(self.tracer, "clamp", {self.id}, {lo = lo, hi = hi}) end
function Sym:dtype() return self._dtype end
function Sym:dim() return #self.shape end
function Sym:size(d) if d then return self.shape[d > 0 and d or #self.shape + d + 1] end return self.shape end
function Sym:numel() local n = 1 for _, s in ipairs(self.shape) do n = n * s end return n end

Sym.__add, Sym.__sub, Sym.__mul, Sym.__div, Sym.__pow = Sym.add, Sym.sub, Sym.mul, Sym.div, Sym.pow
Sym.__unm = Sym.neg
function Sym.__tostring(s)
  return ("dagl.Symbol(%%%d, %s [%s])"):format(s.id, s._dtype, table.concat(s.shape, ", "))
end

--- where(cond, a, b) inside traces (dagl.where dispatches here for symbols).
function M.where(c, a, b)
  local tr = (is_sym(c) and c.tracer) or (is_sym(a) and a.tracer) or b.tracer
  return node(tr, "where", {operand(tr, c), operand(tr, a), operand(tr, b)})
end

M.is_symbol = is_sym

--- assign(target, value) inside traces (t:assign(sym) and dagl.assign(t, sym) come here): an
-- assign node writing the value into the real tensor target (a constant of the graph) at every
-- run, after every node of the graph that reads the target's old value. Returns the node's
-- symbol (the target after the write).
function M.assign(target, value)
  if not is_tensor(target) then
    user_error(("assign: the target must be a real tensor (a weight or a state tensor), got %s"):format(
      is_sym(target) and "a traced symbol" or type(target)))
  end
  local tr = value.tracer
  return node(tr, "assign", {operand(tr, target), value.id})
end
function Sym:assign_into(target) return M.assign(target, self) end

--- Checks concat operands' shapes (a list of shape tables) with 1-based dims in the message;
-- returns the 0-based dim.
function M.check_concat(shapes, dim, level)
  local first = shapes[1]
  local n = #first
  local d = dim > 0 and dim - 1 or dim + n
  if n == 0 or d < 0 or d >= n then
    error(("concat: dimension %d is out of range for shape [%s]"):format(dim, table.concat(first, ", ")), level)
  end
  for k = 2, #shapes do
    local s, ok = shapes[k], #shapes[k] == n
    for i = 1, n do if ok and i ~= d + 1 and s[i] ~= first[i] then ok = false end end
    if not ok then
      error(("concat: tensor %d has shape [%s] and tensor 1 has shape [%s]: they must match in every dimension but the joined dimension %d")
        :format(k, table.concat(s, ", "), table.concat(first, ", "), d + 1), level)
    end
  end
  return d
end

--- concat(list, dim) inside traces (dagl.concat dispatches here when the list holds a symbol):
-- one node per 8 operands (the graph's source limit), chained.
function M.concat(list, dim)
  local tr
  for _, x in ipairs(list) do if is_sym(x) then tr = x.tracer break end end
  local ids, shapes = {}, {}
  for i, x in ipairs(list) do
    ids[i] = operand(tr, x)
    local _, shp = tr.g:info(ids[i])
    shapes[i] = shp
  end
  local d = M.check_concat(shapes, dim or 1, 3)
  local out = node(tr, "concat", table.move(ids, 1, math.min(8, #ids), 1, {}), {axis = d})
  for i = 9, #ids, 7 do
    out = node(tr, "concat", {out.id, table.unpack(ids, i, math.min(i + 6, #ids))}, {axis = d})
  end
  return out
end

--- embedding(table, ids) inside traces: rows by 0-based ids (Keras's token ids).
function M.embedding(table_, ids)
  local tr = is_sym(table_) and table_.tracer or ids.tracer
  return gather(tr, table_, ids, 0)
end

--- The symbol of tensor t in the trace of symbol x (a constant of the graph, shared with every
-- other use of t there: a weight's regularizer term and its gradient meet at one node).
function M.lift(x, t)
  if is_sym(t) then return t end
  return new_sym(x.tracer, operand(x.tracer, t))
end

--- dagl.luaop{forward=f, backward=g, name=, shape=, dtype=, module=, fn=}: a node that runs Lua
-- at every execution of the graph (the tf.py_function case). Called on symbols inside a trace it
-- adds the node; called on real tensors it just calls forward. `shape` is the output shape (a
-- table, or a function of the input shapes); by default the first input's shape and dtype.
-- In global lock mode forward runs under the VM lock; in per-worker mode each worker runs it in
-- a lua_State of its own, so forward must be self-contained (only globals and require) or be
-- named by module= and fn=.
function M.luaop(spec)
  assert(type(spec) == "table" and type(spec.forward) == "function", "dagl.luaop: forward must be a function")
  local handle = core.luaop_new(spec)
  local op = {name = spec.name or "luaop", forward = spec.forward, backward = spec.backward, handle = handle}
  return setmetatable(op, {
    __name = "dagl.LuaOp",
    __call = function(self, ...)
      local tr = M.tracer_of(...)
      if not tr then return spec.forward(...) end
      local sym = M.custom_node(tr, self, spec, ...) -- not a tail call: errors name the caller's line
      return sym
    end,
  })
end

--- The trace the first symbolic argument belongs to, or nil when every argument is real.
function M.tracer_of(...)
  for i = 1, select("#", ...) do
    local a = select(i, ...)
    if is_sym(a) then return a.tracer end
  end
end

--- Adds a custom node for `op` (a table with `handle`, `name`, optional `backward`, as
-- dagl.luaop and dagl.ffi.kernel make) on the arguments: g:custom with the output shape from
-- spec.shape (a table or a function of the input shapes; default the first input's) and dtype
-- spec.dtype (default the first input's).
function M.custom_node(tr, op, spec, ...)
  local n = select("#", ...)
  local srcs, shapes = {}, {}
  for i = 1, n do
    srcs[i] = operand(tr, (select(i, ...)))
    local _, shp = tr.g:info(srcs[i])
    shapes[i] = shp
  end
  local first_dtype = tr.g:info(srcs[1])
  local shape = spec.shape
  if type(shape) == "function" then shape = shape(table.unpack(shapes, 1, n)) end
  local ok, id = pcall(tr.g.custom, tr.g, op.handle, srcs, spec.dtype or first_dtype, shape or shapes[1])
  if not ok then user_error((tostring(id):gsub("^[^:]*:%d+: ", ""))) end
  if tr.label then tr.g:label(id, tr.label) end
  tr.rec[id] = {op = "custom", srcs = srcs, params = {}, luaop = op}
  return new_sym(tr, id)
end

--- Runs `body` with every node it creates labelled `name` (a layer name, for errors and traces).
function M.label(x, name, body)
  local tr = x.tracer
  local prev = tr.label
  tr.label = name
  local ok, res = pcall(body)
  tr.label = prev
  if not ok then error(M.layer_error(name, res), 0) end
  return res
end

--- An error raised by layer `name` (while tracing, building or running it eagerly), naming the
-- layer once (at the innermost layer); the position inside dagl's own Lua files says nothing to
-- users and is dropped.
function M.layer_error(name, res)
  if type(res) == "string" and not res:find("^layer '") then
    res = ("layer '%s': %s"):format(name, (res:gsub("^[^:\n]*/dagl/[%w_/]*%.lua:%d+: ", "")))
  end
  return res
end

-- Signature of a call: dtype and shape of every argument.
local function signature(args, n)
  local parts = {}
  for i = 1, n do
    local t = args[i]
    if not is_tensor(t) then
      user_error(("dagl.fn: argument %d must be a tensor, got %s"):format(i, type(t)))
    end
    parts[i] = t:dtype() .. "[" .. table.concat(t.shape, ",") .. "]"
  end
  return table.concat(parts, ";")
end

-- Traces f for the given example arguments into a new graph.
local function trace(f, args, n)
  local tr = {g = core.graph(), consts = setmetatable({}, {__mode = "k"}), rec = {}}
  local syms = {}
  for i = 1, n do syms[i] = new_sym(tr, tr.g:input(args[i]:dtype(), args[i].shape)) end
  local outs = table.pack(f(table.unpack(syms, 1, n)))
  for i = 1, outs.n do
    local o = outs[i]
    if not is_sym(o) then o = new_sym(tr, operand(tr, o)) end
    tr.g:output(o.id)
  end
  return {graph = tr.g, nout = outs.n}
end

--- dagl.fn(f): a callable that traces f once per input signature and runs the graph after.
-- The returned object also has :graph(...) (the traced graph for those arguments) and
-- :dot(...) (its Graphviz text).
function M.fn(f)
  assert(type(f) == "function", "dagl.fn: expected a function")
  local cache = {}
  local obj = {traces = 0}
  local stale, taken = require("dagl.fn_guard").new(f, obj) -- f's captured values
  local function compiled(args, n)
    if stale() then cache = {} end -- traced with values rebound since: retrace
    local key = signature(args, n)
    local c = cache[key]
    if not c then
      c = trace(f, args, n)
      cache[key] = c
      obj.traces = obj.traces + 1
      taken()
    end
    return c
  end
  function obj:graph(...) return compiled(table.pack(...), select("#", ...)).graph end
  function obj:dot(...) return self:graph(...):dot() end
  return setmetatable(obj, {
    __call = function(_, ...)
      local n = select("#", ...)
      local c = compiled({...}, n)
      local res = table.pack(pcall(c.graph.run, c.graph, ...))
      if not res[1] then error(tostring(res[2]):gsub("^[^:]*:%d+: ", ""), 2) end -- at the caller's line
      return table.unpack(res, 2, res.n)
    end,
  })
end

-- What dagl.grad (grad.lua) builds on.
-- True when two shape lists are equal (used by grad.lua and nn).
local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

M.internal = {node = node, new_sym = new_sym, operand = operand, same_shape = same_shape}

return M
