--- dagl.fn: trace a Lua function on symbolic tensors into a graph once per input signature
-- (dtypes and shapes), then run the compiled graph -- like tf.function. Inside the traced
-- function the same methods and operators as on real tensors are available; real tensors it
-- touches (weights) become constants of the graph.
local core = require "dagl.core"
local options = require "dagl.options"
local api = require "dagl.api_options"

local M = {}

local Sym = {}
Sym.__index = Sym
Sym.__name = "dagl.Symbol"

local is_tensor = core.is_tensor

local function is_sym(x) return getmetatable(x) == Sym end

-- Errors at the user's line (dagl.api_options): user_error(msg), at_user_line(f, ...).
local user_error, at_user_line = api.user_error, api.at_user_line

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
  local id = at_user_line(tr.g.node, tr.g, op, srcs, params)
  if tr.label then tr.g:label(id, tr.label) end
  tr.rec[id] = {op = op, srcs = srcs, params = params or {}} -- for dagl.grad
  return new_sym(tr, id)
end

-- Every method of real tensors is a method of symbols too: the C bindings read tensors and
-- symbols through one argument front end (src/lua/l_front.c), so a call checks its arguments
-- and fails the same way traced as eager; on a symbol they add the node through `emit` below.
-- What needs values (item, totable, x[i] of a 1-d tensor) raises, saying what to use instead.
local methods = core.Tensor.methods
for k, f in pairs(methods) do Sym[k] = f end
Sym.__index = function(self, k)
  if math.type(k) == "integer" then
    return at_user_line(core.index, self, k)
  end
  return Sym[k]
end
Sym.__newindex = function(self, k, v)
  if math.type(k) == "integer" then
    user_error(("index: a traced tensor cannot be written in place (x[%d] = ...); compute a new value or use dagl.assign on a real tensor"):format(k))
  end
  rawset(self, k, v)
end
Sym.__add, Sym.__sub, Sym.__mul, Sym.__div, Sym.__pow = core.add, core.sub, core.mul, core.div, core.pow
Sym.__idiv, Sym.__mod = core.floor_divide, core.remainder
Sym.__unm, Sym.__len = core.neg, core.Tensor.__len
local function no_compare()
  user_error("compare: < and <= on a traced tensor would need its values to give a Lua boolean; use x:lt(y), x:le(y) (tensors of 1 and 0) and dagl.where to choose")
end
Sym.__lt, Sym.__le = no_compare, no_compare
function Sym.__tostring(s)
  return ("dagl.Symbol(%%%d, %s [%s]; traced: its values exist when the graph runs)"):format(s.id, s._dtype,
    table.concat(s.shape, ", "))
end

-- How the C front end adds a node: op on the operands (symbols of one trace, real tensors that
-- become constants) with params already normalized (0-based dims, the graph's form).
local function emit(op, params, ...)
  local tr = M.tracer_of(...)
  local srcs = {}
  for i = 1, select("#", ...) do srcs[i] = operand(tr, (select(i, ...))) end
  return node(tr, op, srcs, params)
end
core.set_symbol_class(Sym, emit)

--- where(cond, a, b): the C function, which takes symbols (grad.lua's rules use it).
M.where = core.where
M.is_symbol = is_sym

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

--- The symbol of tensor t in the trace of symbol x (a constant of the graph, shared with every
-- other use of t there: a weight's regularizer term and its gradient meet at one node).
function M.lift(x, t)
  if is_sym(t) then return t end
  return new_sym(x.tracer, operand(x.tracer, t))
end

local luaop_options = options.declare {name = "dagl.luaop", path = "dagl.luaop",
  probe = function(o)
    local spec = {forward = function(x) return x end}
    for k, v in pairs(o) do spec[k] = v end
    return M.luaop(spec)
  end,
  {"forward", "function", required = true, doc = "forward(x1, ...) -> tensor, run at every execution of the graph"},
  {"backward", "function", doc = "backward(grad_out, x1, ..., out) -> the gradient of each input (dagl.grad, fit)"},
  {"name", "string", default = "luaop", doc = "the node's name in errors and traces"},
  {"shape", {"output_shape", "function"}, doc = "the output shape, or a function of the input shapes (default: the first input's)"},
  {"dtype", options.enum {"float32", "float64", "int64"}, doc = "the output dtype (default: the first input's)"},
  {"module", "string", doc = "per-worker mode: the module (a require name) whose functions the workers run"},
  {"fn", "string", doc = "forward's name in module (default \"forward\")"},
  {"backward_fn", "string", doc = "backward's name in module (default \"backward\")"},
}

-- dagl.luaop's one table of options, checked (what at_user_line raises at the user's line).
local function luaop_spec(...)
  api.at_most("dagl.luaop", "one table of options", 1, 1, ...)
  local o = luaop_options:check((...), 1) -- not a tail call: level 1 counts this frame
  return o
end

--- dagl.luaop{forward=f, backward=g, name=, shape=, dtype=, module=, fn=, backward_fn=}: a node
-- that runs Lua at every execution of the graph (the tf.py_function case). Called on symbols
-- inside a trace it adds the node; called on real tensors it just calls forward. `shape` is the
-- output shape (a table, or a function of the input shapes); by default the first input's shape
-- and dtype. In global lock mode forward and backward run under the VM lock; in per-worker mode
-- each worker runs them in a lua_State of its own, so they must be self-contained (only globals
-- and require) or be named by module= with fn= and backward_fn=. The options are declared above
-- (the one list: the C handle reads them without checking).
function M.luaop(...)
  local spec = at_user_line(luaop_spec, ...)
  local handle = at_user_line(core.luaop_new, spec)
  local op = {name = spec.name, forward = spec.forward, backward = spec.backward, handle = handle,
              module = spec.module, backward_fn = spec.backward_fn}
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

--- dagl.luaop_new(spec [, k]): the C handle (low level, for g:custom), spec's options checked as
-- dagl.luaop's; with k spec is an op dagl.luaop made (the gradient nodes of dagl.grad).
function M.luaop_new(spec, k, ...)
  api.at_most("dagl.luaop_new", "(spec [, k])", 2, 1, spec, k, ...)
  if k == nil then spec = luaop_options:check(spec, 1) end
  return at_user_line(core.luaop_new, spec, k)
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
  local id = at_user_line(tr.g.custom, tr.g, op.handle, srcs, spec.dtype or first_dtype, shape or shapes[1])
  if tr.label then tr.g:label(id, tr.label) end
  tr.rec[id] = {op = "custom", srcs = srcs, params = {}, luaop = op}
  return new_sym(tr, id)
end

--- Runs `body` with every node it creates labelled `name` (a layer name, for errors and traces).
function M.label(x, name, body)
  local tr = x.tracer
  local prev = tr.label
  tr.label = name
  local res = table.pack(pcall(body))
  tr.label = prev
  if not res[1] then error(M.layer_error(name, res[2]), 0) end
  return table.unpack(res, 2, res.n)
end

--- An error raised by layer `name` (while tracing, building or running it eagerly), naming the
-- layer once (at the innermost layer); the position inside dagl's own Lua files says nothing to
-- users and is dropped.
function M.layer_error(name, res)
  if type(res) == "string" and not res:find("^layer '") and not core.is_interrupt(res) then
    res = ("layer '%s': %s"):format(name, (res:gsub("^[^:\n]*/dagl/[%w_/]*%.lua:%d+: ", "")))
  end
  return res
end

--- Raises layer_error(name, err) at `level` (1: the caller of layer_raise's caller); an interrupt
-- (Ctrl-C) goes on as it is, already at the user's line.
function M.layer_raise(name, err, level)
  if core.is_interrupt(err) then error(err, 0) end
  error(M.layer_error(name, err), level + 1)
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
function M.fn(f, ...)
  api.at_most("dagl.fn", "one function (it has no options)", 1, 1, f, ...)
  if type(f) ~= "function" then error("dagl.fn: expected a function, got " .. options.show(f), 2) end
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
      if not res[1] then
        if core.is_interrupt(res[2]) then error(res[2], 0) end -- already at the user's line
        error(tostring(res[2]):gsub("^[^:]*:%d+: ", ""), 2) -- at the caller's line
      end
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

M.internal = {node = node, new_sym = new_sym, operand = operand, same_shape = same_shape, user_error = user_error,
              Sym = Sym}

return M
