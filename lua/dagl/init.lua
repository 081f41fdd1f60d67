--- dagl: tensors, graphs and neural networks over a C core.
-- `require "dagl"` returns the C module (dagl.core) extended with the Lua-side library.
local core = require "dagl.core"

local dagl = {}
for k, v in pairs(core) do dagl[k] = v end

local fn = require "dagl.fn"
dagl.fn = fn.fn
dagl.is_symbol = fn.is_symbol
dagl.label = fn.label
dagl.luaop = fn.luaop
dagl.luaop_new = fn.luaop_new
dagl.grad = require("dagl.grad").grad

--- dagl.where, dagl.assign, dagl.embedding and every op are the C functions themselves: they take
-- real tensors and traced symbols alike (one argument front end, src/lua/l_front.c).

--- dagl.concat({t1, t2, ...}, dim=1): joins along dim (1-based); symbols go into the trace.
function dagl.concat(list, dim)
  dim = dim or 1
  local shapes = {}
  for i, x in ipairs(list) do
    if fn.is_symbol(x) then return fn.concat(list, dim) end
    if not core.is_tensor(x) then error(("concat: element %d is a %s, not a tensor"):format(i, type(x)), 2) end
    shapes[i] = x.shape
  end
  if #shapes == 0 then error("concat: no tensors to join", 2) end
  fn.check_concat(shapes, dim, 3)
  return core.concat(list, dim)
end

--- dagl.stack, cat, split, chunk, std, tril, triu (and the methods t:split, ...): Lua over the
-- core's ops, for tensors and symbols alike.
require("dagl.lua_ops").install(dagl)

--- dagl.trace, dagl.trace_stop, dagl.set_threads, dagl.read_csv, dagl.set_check_numerics and
-- dagl.set_memory_plan check their options and arguments (dagl.api_options) before the C code.
require("dagl.api_options").install(dagl)

--- dagl.nn (layers, models, training), dagl.data (batches, datasets), dagl.onnx (ONNX import),
-- dagl.ffi (C functions through libffi) and dagl.dist (MPI collectives) load on first use:
-- require "dagl" stays light.
local lazy = {nn = "dagl.nn", data = "dagl.data", ffi = "dagl.ffi", onnx = "dagl.onnx", dist = "dagl.dist"}
setmetatable(dagl, {__index = function(t, k)
  local name = lazy[k]
  if name then
    local m = require(name)
    rawset(t, k, m)
    return m
  end
end})

--- dagl.input{shape = {...}, dtype =, name =}: nn.Input, the symbolic input of the functional API
-- (Keras's keras.Input), reachable without going through dagl.nn.
function dagl.input(opts) return dagl.nn.Input(opts) end

--- Dtype names, usable wherever a dtype is taken.
dagl.float32, dagl.float64, dagl.int64, dagl.uint8 = "float32", "float64", "int64", "uint8"

return dagl
