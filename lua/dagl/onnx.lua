--- dagl.onnx: ONNX models run on dagl's graphs (docs/onnx.md).
-- dagl.onnx.load(path, opts) -> a model, called on tensors like a dagl.fn: one graph per input
-- signature (dtypes and shapes), built by the C importer (src/onnx/); inputs by position or by
-- ONNX input name, outputs as multiple results or, through model:run, by name.
local core = require "dagl.core"
local fn = require "dagl.fn"

local onnx = {}

local Model = {}
Model.__index = Model

-- Errors: the internals raise messages without a position (level 0) and every API function runs
-- them under pcall and re-raises at its caller's line (reraise), whatever the depth in between;
-- an interrupt (Ctrl-C) goes on as it is.
local function reraise(err)
  if core.is_interrupt(err) then error(err, 0) end
  if type(err) == "string" then err = err:gsub("^[^:\n]*/dagl/onnx%.lua:%d+: ", "") end -- says nothing to users
  error(err, 3) -- 1: reraise, 2: the API function, 3: its caller
end

-- lauxlib's message for a bad argument.
local function argerror(fname, i, msg)
  error(("bad argument #%d to '%s' (%s)"):format(i, fname, msg), 0)
end

local function typename(v)
  return core.is_tensor(v) and "dagl.Tensor" or type(v)
end

-- A tensor, or a symbol of a dagl.fn trace.
local function tensor_like(v)
  return core.is_tensor(v) or fn.is_symbol(v)
end

-- A tensor's dtype, or a signature's ({dtype =, shape =}, for building at load time).
local function dtype_of(x)
  return core.is_tensor(x) and x:dtype() or x.dtype
end

-- The graph for these inputs' dtypes and shapes, built the first time.
function Model:_graph(xs)
  local parts = {}
  for i, x in ipairs(xs) do
    local want, got = self.inputs[i].dtype, dtype_of(x)
    if got ~= want then
      error(("onnx model %s: input '%s' is %s, the model takes %s"):format(self.path, self.inputs[i].name, got, want), 0)
    end
    parts[i] = got .. "[" .. table.concat(x.shape, ",") .. "]"
  end
  local key = table.concat(parts, ";")
  local g = self._graphs[key]
  if not g then
    local shapes = {}
    for i, x in ipairs(xs) do shapes[i] = x.shape end
    g = self._m:build(shapes)
    self._graphs[key] = g
    self.num_graphs = self.num_graphs + 1
  end
  return g
end

-- The inputs in the model's order, from positional tensors or one table keyed by input name.
function Model:_inputs(fname, ...)
  local n, first = select("#", ...), ...
  local xs = {}
  if n == 1 and type(first) == "table" and not tensor_like(first) then
    for k in pairs(first) do
      if type(k) ~= "string" or not self._index[k] then
        argerror(fname, 1, ("no input named '%s' (inputs: %s)"):format(tostring(k), self._names))
      end
    end
    for i, inp in ipairs(self.inputs) do
      local x = first[inp.name]
      if x == nil then argerror(fname, 1, ("input '%s' is missing"):format(inp.name)) end
      if not tensor_like(x) then
        argerror(fname, 1, ("input '%s': dagl.Tensor expected, got %s"):format(inp.name, typename(x)))
      end
      xs[i] = x
    end
    return xs
  end
  if n ~= #self.inputs then
    error(("%s: %d inputs given, the model takes %d (%s)"):format(fname, n, #self.inputs, self._names), 0)
  end
  for i = 1, n do
    local x = select(i, ...)
    if not tensor_like(x) then argerror(fname, i, "dagl.Tensor expected, got " .. typename(x)) end
    xs[i] = x
  end
  return xs
end

-- The model's nodes added to the trace of a dagl.fn (some inputs are symbols): symbols of its
-- outputs, so ONNX models compose with traced code, nn models and embedding sessions.
function Model:_traced(tr, xs)
  local internal = fn.internal
  local ids = {}
  for i, x in ipairs(xs) do ids[i] = internal.operand(tr, x) end
  local outs = self._m:add_to(tr.g, ids)
  local syms = {}
  for i, id in ipairs(outs) do syms[i] = internal.new_sym(tr, id) end
  return syms
end

-- The outputs (a list) for the inputs of a call to `fname`: run on the graph of their
-- signature, or, inside a dagl.fn (symbolic inputs), the model's nodes joined to the trace.
function Model:_outputs(fname, ...)
  local xs = self:_inputs(fname, ...)
  local tr = fn.tracer_of(table.unpack(xs))
  if tr then return self:_traced(tr, xs) end
  return table.pack(self:_graph(xs):run(table.unpack(xs)))
end

--- model(x1, x2, ...) or model{name = x, ...} -> the outputs, in the model's order.
function Model:__call(...)
  local ok, outs = pcall(self._outputs, self, "onnx model", ...)
  if not ok then reraise(outs) end
  return table.unpack(outs, 1, #self.outputs)
end

--- model:run(inputs...) -> {output_name = tensor, [1] = tensor, ...}
function Model:run(...)
  local ok, outs = pcall(self._outputs, self, "run", ...)
  if not ok then reraise(outs) end
  local res = {}
  for i, name in ipairs(self.outputs) do
    res[i] = outs[i]
    res[name] = outs[i]
  end
  return res
end

--- model:graph(inputs...) -> the dagl graph value that runs those inputs (for traces, plans).
function Model:graph(...)
  local ok, g = pcall(function(...) return self:_graph(self:_inputs("graph", ...)) end, ...)
  if not ok then reraise(g) end
  return g
end

--- dagl.onnx.load(path, opts) -> model. opts.shapes = {name = shape or [i] = shape}: build the
-- graphs of those input shapes now (a model whose inputs all have fixed shapes is built now
-- anyway), so that errors of the import come at load time.
local function load(path, opts)
  if type(path) ~= "string" then argerror("load", 1, "string expected, got " .. typename(path)) end
  if opts ~= nil and type(opts) ~= "table" then argerror("load", 2, "table expected, got " .. typename(opts)) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "shapes" then argerror("load", 2, ("unknown option '%s' (options: shapes)"):format(tostring(k))) end
  end
  local m = core.onnx_load(path)
  local self = setmetatable({_m = m, path = path, inputs = m:inputs(), outputs = m:outputs(), opset = m:opset(),
                             _graphs = {}, num_graphs = 0, _index = {}}, Model)
  local names = {}
  for i, inp in ipairs(self.inputs) do
    self._index[inp.name] = i
    names[i] = inp.name
  end
  self._names = table.concat(names, ", ")
  local shapes, fixed = {}, true
  for i, inp in ipairs(self.inputs) do
    local s = opts.shapes and (opts.shapes[inp.name] or opts.shapes[i]) or inp.shape
    if not s then fixed = false else
      for _, d in ipairs(s) do if d < 0 then fixed = false end end
    end
    shapes[i] = s
  end
  if fixed then
    local xs = {}
    for i, inp in ipairs(self.inputs) do xs[i] = {dtype = inp.dtype, shape = shapes[i]} end
    self:_graph(xs)
  end
  return self
end

function onnx.load(path, opts)
  local ok, model = pcall(load, path, opts)
  if not ok then reraise(model) end
  return model
end

--- dagl.onnx.save(f, path, example_inputs): writes what f computes on inputs of those dtypes and
-- shapes as an ONNX model (opset 17). f is any callable on tensors: a function, a dagl.fn, an nn
-- model, an ONNX model; it is traced afresh (a graph that ran is fused).
function onnx.save(f, path, example_inputs)
  local ok, err = pcall(function()
    local mt = getmetatable(f)
    if type(f) ~= "function" and not (type(mt) == "table" and mt.__call) then
      argerror("save", 1, "function or callable model expected, got " .. typename(f))
    end
    if type(path) ~= "string" then argerror("save", 2, "string expected, got " .. typename(path)) end
    if type(example_inputs) ~= "table" or core.is_tensor(example_inputs) then
      argerror("save", 3, "a list of tensors expected, got " .. typename(example_inputs))
    end
    for i, x in ipairs(example_inputs) do
      if not core.is_tensor(x) then argerror("save", 3, ("entry %d: dagl.Tensor expected, got %s"):format(i, typename(x))) end
    end
    local traced = fn.fn(function(...) return f(...) end)
    core.onnx_save(traced:graph(table.unpack(example_inputs)), path)
  end)
  if not ok then reraise(err) end
end

--- dagl.onnx.read_tensor(path) -> tensor (a TensorProto file, as ONNX's test data stores them).
function onnx.read_tensor(path)
  if type(path) ~= "string" then reraise(("bad argument #1 to 'read_tensor' (string expected, got %s)"):format(typename(path))) end
  local ok, t = pcall(core.onnx_read_tensor, path)
  if not ok then reraise(t) end
  return t
end

--- dagl.onnx.write_tensor(t, path): writes t as a TensorProto file.
function onnx.write_tensor(t, path)
  local why = not core.is_tensor(t) and ("bad argument #1 to 'write_tensor' (dagl.Tensor expected, got %s)"):format(typename(t))
    or type(path) ~= "string" and ("bad argument #2 to 'write_tensor' (string expected, got %s)"):format(typename(path))
  if why then reraise(why) end
  local ok, err = pcall(core.onnx_write_tensor, t, path)
  if not ok then reraise(err) end
end

return onnx
