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

--- dagl.trace{json=path, svg=path, print=bool}(body) or dagl.trace(opts, body): runs body with
-- every graph run recorded, writes the Chrome/Perfetto JSON and the SVG timeline when asked, and
-- returns the statistics (wall, work, parallelism, critical_path, dag_width, lock_hold,
-- lock_wait, lock_serialized_fraction, ..., summary) followed by body's results.
function dagl.trace(opts, body)
  if body == nil then return function(b) return dagl.trace(opts, b) end end
  assert(type(body) == "function", "dagl.trace: expected a function to run")
  core.trace_start()
  local res = table.pack(pcall(body))
  local stats = core.trace_stop{json = opts.json, svg = opts.svg}
  if not res[1] then error(res[2], 0) end
  if opts.print then io.write(stats.summary) end
  return stats, table.unpack(res, 2, res.n)
end

--- dagl.nn (layers, models, training), dagl.data (batches, datasets) and dagl.ffi (C functions
-- through libffi) load on first use: require "dagl" stays light.
local lazy = {nn = "dagl.nn", data = "dagl.data", ffi = "dagl.ffi"}
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
dagl.float32, dagl.float64, dagl.int64 = "float32", "float64", "int64"

return dagl
