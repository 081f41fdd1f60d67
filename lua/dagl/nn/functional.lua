--- dagl.nn.functional: Keras's functional API. nn.Input{shape={8}} is a symbolic Keras tensor
-- (the batch dim is implicit); calling a layer or a model on Keras tensors records a node of a
-- layer graph (a merge layer takes a list: layer({a, b})); nn.Model{inputs=, outputs=} makes a
-- model that replays that graph on real tensors or traced symbols.
local dagl = require "dagl"
local options = require "dagl.options"

local nn = require "dagl.nn.base"

local KerasTensor = {}
KerasTensor.__index = KerasTensor
local seq = 0 -- creation order, which is also a topological order of the layer graph

-- Keras tensors are not tensors: arithmetic on them has to go through a layer.
local function no_ops() error("Keras tensors (nn.Input and what layers return on them) combine only through layers (e.g. a merge layer called on {a, b})", 2) end
for _, mm in ipairs {"__add", "__sub", "__mul", "__div", "__pow", "__unm"} do KerasTensor[mm] = no_ops end
function KerasTensor:__tostring()
  return ("KerasTensor(%s, shape (None, %s))"):format(self.name, table.concat(self.shape, ", "))
end

local function new(shape, dtype, name, node)
  seq = seq + 1
  return setmetatable({shape = shape, dtype = dtype or "float32", id = seq, name = name or ("keras_tensor_" .. seq),
                       node = node}, KerasTensor)
end

local input_options = options.declare {name = "nn.Input", path = "nn.Input", positional = {"shape"},
  probe = function(o) return nn.Input(o) end, example = {shape = {2}},
  {"shape", "shape", required = true, doc = "the shape without the batch dim: {8}, 8 or nn.Input{8}"},
  {"dtype", options.enum {"float32", "float64", "int64"}, default = "float32"},
  {"name", "string"},
  {"batch_size", "integer", unsupported = "the batch dim is implicit (any batch size)"},
}

--- nn.Input(shape, {dtype = "float32", name =}), nn.Input{8} or nn.Input{shape = {8}, ...}: a
-- Keras tensor of that shape without the batch dim (which is implicit).
function nn.Input(...)
  local o = input_options:parse(2, ...)
  return new(o.shape, o.dtype, o.name)
end

local function is_kt(x) return getmetatable(x) == KerasTensor end
nn.is_keras_tensor = is_kt

--- Is x a Keras tensor or a list of them (what a layer called in the functional API gets)?
function nn.keras_input(x)
  return is_kt(x) or (type(x) == "table" and getmetatable(x) == nil and is_kt(x[1]))
end

--- Records layer(x) on Keras tensors: the output's shape comes from tracing the layer once on
-- empty batch-1 tensors (which also builds it); returns the output Keras tensor.
function nn.keras_call(layer, x)
  local list = is_kt(x) and {x} or x
  local args = {}
  for i, kt in ipairs(list) do
    if not is_kt(kt) then error(("%s: input %d is not a Keras tensor (mixing with real tensors)"):format(layer.name, i), 3) end
    args[i] = dagl.empty({1, table.unpack(kt.shape)}, kt.dtype)
  end
  local out
  dagl.fn(function(...)
    local syms = {...}
    local y = layer(is_kt(x) and syms[1] or syms)
    if not dagl.is_symbol(y) then
      error(("%s: a layer in a functional model must return one tensor"):format(layer.name), 0)
    end
    out = y
    return y
  end):graph(table.unpack(args))
  return new({table.unpack(out.shape, 2)}, out:dtype(), layer.name .. "_out", {layer = layer, inputs = x})
end

local Functional = nn.Model:extend("functional")
nn.Functional = Functional
-- nn.Model(inputs, outputs) or nn.Model{...} makes a functional model; nn.Model:extend() a subclass.
setmetatable(nn.Model, {__call = function(_, ...) return Functional(...) end})

-- A Keras tensor or a non-empty list of them.
local function keras_tensors(v)
  local list = is_kt(v) and {v} or v
  local what = "a Keras tensor (nn.Input or a layer's output on one) or a list of them"
  if type(list) ~= "table" or getmetatable(list) ~= nil or #list == 0 then return false, what end
  for i, kt in ipairs(list) do
    if not is_kt(kt) then return false, ("%s; item %d is %s"):format(what, i, options.show(kt)) end
  end
  return true
end
local model_options = options.declare {name = "nn.Model", path = "nn.Model", positional = {"inputs", "outputs"},
  probe = function(o) return nn.Model(o) end,
  example = function() local i = nn.Input{2} return {inputs = i, outputs = nn.Dense(1)(i)} end,
  {"inputs", keras_tensors, required = true}, {"outputs", keras_tensors, required = true}, {"name", "string"}}

--- nn.Model(inputs, outputs, {name =}) or nn.Model{inputs = inp or {inp1, ...}, outputs = out or
-- {out1, ...}, name =} (Keras's forms).
function Functional:init(...)
  local opts = model_options:parse(2, ...)
  self.inputs = is_kt(opts.inputs) and {opts.inputs} or opts.inputs
  self.outputs = is_kt(opts.outputs) and {opts.outputs} or opts.outputs
  self.multi_in, self.multi_out = not is_kt(opts.inputs), not is_kt(opts.outputs)
  if opts.name then self.name = opts.name end
  local is_input = {}
  for _, kt in ipairs(self.inputs) do is_input[kt] = true end
  -- every Keras tensor the outputs depend on, back to the inputs
  local needed, list = {}, {}
  local function visit(kt)
    if needed[kt] or is_input[kt] then return end
    if not kt.node then
      error(("nn.Model: the outputs depend on %s, which is not among the inputs"):format(kt.name), 5)
    end
    needed[kt] = true
    list[#list + 1] = kt
    for _, src in ipairs(is_kt(kt.node.inputs) and {kt.node.inputs} or kt.node.inputs) do visit(src) end
  end
  for _, kt in ipairs(self.outputs) do visit(kt) end
  table.sort(list, function(a, b) return a.id < b.id end)
  self.nodes, self.layers, self._lists_layers = list, {}, true
  local seen = {}
  for _, kt in ipairs(list) do
    if not seen[kt.node.layer] then
      seen[kt.node.layer] = true
      self.layers[#self.layers + 1] = kt.node.layer
    end
  end
  self.built = true
  local shapes = {}
  for i, kt in ipairs(self.inputs) do shapes[i] = {1, table.unpack(kt.shape)} end
  self.input_shape = self.multi_in and shapes or shapes[1]
  for i, kt in ipairs(self.outputs) do shapes[i] = {1, table.unpack(kt.shape)} end
  self.output_shape = self.multi_out and table.move(shapes, 1, #self.outputs, 1, {}) or {1, table.unpack(self.outputs[1].shape)}
end

--- Replays the layer graph on x (a tensor or symbol; a list of them for several inputs).
function Functional:call(x)
  local xs = self.multi_in and x or {x}
  if type(xs) ~= "table" or #xs ~= #self.inputs then
    error(("%s: expected %d inputs, got %s"):format(self.name, #self.inputs, type(xs) == "table" and #xs or type(xs)), 3)
  end
  local vals = {}
  for i, kt in ipairs(self.inputs) do vals[kt] = xs[i] end
  for _, kt in ipairs(self.nodes) do
    local ins = kt.node.inputs
    if is_kt(ins) then
      vals[kt] = kt.node.layer(vals[ins])
    else
      local args = {}
      for i, src in ipairs(ins) do args[i] = vals[src] end
      vals[kt] = kt.node.layer(args)
    end
  end
  if not self.multi_out then return vals[self.outputs[1]] end
  local out = {}
  for i, kt in ipairs(self.outputs) do out[i] = vals[kt] end
  return out
end
