--- dagl.nn.model: the Model base class that Sequential, functional (nn.Model{inputs=, outputs=},
-- see functional.lua) and subclassed models (nn.Model:extend()) share: weights, summary,
-- compile, fit, evaluate, predict, save_weights/load_weights.
local dagl = require "dagl"
local data = require "dagl.nn.data"
local fn = require "dagl.fn"
local options = require "dagl.options"

local nn = require "dagl.nn.base"

local Model = {}
Model.__index = Model
nn.Model = Model

-- Metamethods every model class carries (Lua looks them up raw in the metatable).
local function class_of(parent, kind)
  local cls = setmetatable({kind = kind}, {
    __index = parent,
    __call = function(c, ...) return c.new(...) end,
    -- a subclass's build(input_shape) is its layer-making hook; Model:build stays the dry run
    __newindex = function(c, k, v) rawset(c, k == "build" and "build_layers" or k, v) end,
  })
  rawset(cls, "__index", cls)
  rawset(cls, "__call", Model.__call)
  rawset(cls, "__tostring", Model.__tostring)
  function cls.new(...)
    local self = setmetatable({}, cls)
    self.name = nn.auto_name(kind)
    self._model = true
    self:init(...)
    return self
  end
  return cls
end

--- A model class: local MyModel = nn.Model:extend(); function MyModel:init(...) (make layers as
-- fields), optionally MyModel:build(input_shape) (layers that need the input shape) and
-- MyModel:call(x) composing them. MyModel(...) makes an instance.
function Model:extend(kind) return class_of(self, kind or (self == Model and "model" or self.kind)) end

function Model:init() end
function Model:call() error(("%s: define call(x) in the model class"):format(self.name), 2) end
function Model:__tostring() return ("dagl.nn model %s"):format(self.name) end

local shapes_of = data.shapes

--- Calls the model on tensors or traced symbols (a list of them for several inputs); on Keras
-- tensors (nn.Input) it records a node, so models nest in functional models.
-- Raises when a field of a subclassed model holds a tensor (the PyTorch habit self.w =
-- dagl.randn(...)): models train the weights of their layers only, so it would never change.
local function check_model_fields(self)
  for k, v in pairs(self) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" and dagl.is_tensor(v) then
      error(("%s: field '%s' holds a tensor of shape [%s], which no layer owns: a model trains and saves the weights of its layers only; make a layer that creates it with add_weight (docs/custom_layers.md), or name the field \"_%s\" to keep it out of the model")
        :format(self.name, k, table.concat(v.shape, ", "), k), 3)
    end
  end
end

function Model.__call(self, x, ...)
  if nn.keras_input(x) then return nn.keras_call(self, x) end
  if not self.built then
    if not rawget(self, "_lists_layers") then check_model_fields(self) end
    self.built = true
    if self.build_layers then self:build_layers(shapes_of(x)) end
  end
  return self:call(x, ...)
end

-- Empty tensors of the given shapes (one shape, or a list of shapes) for dry-run traces.
-- The dtype is the first layer's input_dtype when it has one (Embedding takes int64 ids).
local function dummies(self, shape)
  local l1 = rawget(self, "layers") and self.layers[1]
  local dtype = type(l1) == "table" and l1.input_dtype or "float32"
  if type(shape[1]) ~= "table" then return {dagl.empty(shape, dtype)} end
  local out = {}
  for i, s in ipairs(shape) do out[i] = dagl.empty(s) end
  return out
end

-- Traces body(model inputs) once on empty tensors of input_shape (no run); returns body's result.
local function dry_run(self, input_shape, body)
  local res
  local args = dummies(self, input_shape)
  dagl.fn(function(...)
    local xs = {...}
    local _, _, out = nn.collect(false, function() return self(#xs == 1 and xs[1] or xs) end)
    res = body(out)
    return type(out) == "table" and not out.shape and out[1] or out
  end):graph(table.unpack(args))
  return res
end

-- The shape of one output, or the list of shapes of several.
local function out_shapes(out) return out.shape or shapes_of(out) end

--- Builds every layer for an input shape (batch first; a list of shapes for several inputs)
-- by tracing the forward pass once without running it; returns the output shape(s).
function Model:build(input_shape)
  self.input_shape = input_shape
  self.output_shape = dry_run(self, input_shape, out_shapes)
  return self.output_shape
end

-- Is v a layer or a model instance (not a class)?
local function is_layer(v)
  return type(v) == "table" and (rawget(v, "_model") or (type(rawget(v, "weights")) == "table" and v.call ~= nil))
end
nn.is_layer = is_layer

--- The model's layers: Sequential and functional models list them; subclassed models find the
-- layers and models held in fields (or in lists in fields), by field name.
function Model:layer_list()
  if rawget(self, "layers") and rawget(self, "_lists_layers") then return self.layers end
  local keys = {}
  for k in pairs(self) do if type(k) == "string" and k:sub(1, 1) ~= "_" then keys[#keys + 1] = k end end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = self[k]
    if is_layer(v) then
      out[#out + 1] = v
    elseif type(v) == "table" and getmetatable(v) == nil then
      for _, item in ipairs(v) do if is_layer(item) then out[#out + 1] = item end end
    end
  end
  return out
end

--- Weight entries {name=, value=, trainable=} of every layer (nested models included), once
-- each; entries with trainable = false (BatchNorm's moving statistics) and the weights of
-- layers with trainable = false are not trained.
function Model:weight_entries()
  local out, seen = {}, {}
  local function walk(layer, frozen)
    frozen = frozen or layer.trainable == false
    if rawget(layer, "_model") then
      for _, l in ipairs(layer:layer_list()) do walk(l, frozen) end
      return
    end
    for _, w in ipairs(layer.weights or {}) do
      if not seen[w.value] then
        seen[w.value] = true
        out[#out + 1] = {name = w.name, value = w.value, trainable = not frozen and w.trainable ~= false}
      end
    end
  end
  walk(self, false)
  return out
end

-- The value tensors of the entries that pass keep (all when keep is nil).
local function values(entries, keep)
  local out = {}
  for _, e in ipairs(entries) do if keep == nil or e.trainable == keep then out[#out + 1] = e.value end end
  return out
end

--- Every weight tensor (trainable and not), in layer order.
function Model:weights() return values(self:weight_entries()) end
--- The weight tensors the optimizer updates.
function Model:trainable_weights() return values(self:weight_entries(), true) end
function Model:non_trainable_weights() return values(self:weight_entries(), false) end

--- A table of layers, output shapes and parameter counts (as Keras's summary()), printed and
-- returned. input_shape (batch first) is needed once if the model was never built or trained.
function Model:summary(input_shape, opts)
  local shape = input_shape or self.input_shape
  if not shape then error("summary: build the model first (model:build{batch, features}) or pass an input shape", 2) end
  if not self.output_shape or input_shape then self:build(shape) end
  local layers, seen, originals = self:layer_list(), {}, {}
  for i, l in ipairs(layers) do -- record each layer's first output while tracing
    originals[i] = rawget(l, "call")
    local call = l.call
    rawset(l, "call", function(s, ...)
      local y = call(s, ...)
      seen[l] = seen[l] or out_shapes(y)
      return y
    end)
  end
  local ok, err = pcall(dry_run, self, shape, function() end)
  for i, l in ipairs(layers) do rawset(l, "call", originals[i]) end
  if not ok then error(err, 0) end
  local function show(s)
    if type(s[1]) == "table" then
      local parts = {}
      for i, t in ipairs(s) do parts[i] = show(t) end
      return table.concat(parts, ", ")
    end
    local shown = {table.unpack(s)}
    shown[1] = "None"
    return "(" .. table.concat(shown, ", ") .. ")"
  end
  local row = "%-24s %-20s %10s"
  local lines = {row:format("Layer", "Output shape", "Params"), string.rep("-", 56)}
  local trainable, frozen = 0, 0
  local owner = {}
  for _, e in ipairs(self:weight_entries()) do
    if e.trainable then trainable = trainable + e.value:numel() else frozen = frozen + e.value:numel() end
  end
  for _, l in ipairs(layers) do
    local n = 0
    local entries = rawget(l, "_model") and l:weight_entries() or l.weights or {}
    for _, w in ipairs(entries) do
      if not owner[w.value] then owner[w.value] = true n = n + w.value:numel() end
    end
    lines[#lines + 1] = row:format(l.name, seen[l] and show(seen[l]) or "?", n)
  end
  lines[#lines + 1] = string.rep("-", 56)
  lines[#lines + 1] = ("Total params: %d"):format(trainable + frozen)
  lines[#lines + 1] = ("Trainable params: %d"):format(trainable)
  lines[#lines + 1] = ("Non-trainable params: %d"):format(frozen)
  local text = table.concat(lines, "\n")
  if not (opts and opts.quiet) then print(text) end
  return text
end

-- A loss given to compile: a loss object, a name or a function(pred, target) (a name is looked
-- up by compile itself, whose error names the nearest loss).
local function loss_type(v)
  if type(v) == "string" then return true end
  local ok = pcall(nn.losses.get, v)
  if ok then return true end
  return false, "a loss (a name, a loss object or a function(pred, target))"
end
local compile_options = options.declare {name = "compile", path = "model:compile",
  probe = function(o) return nn.Sequential{nn.Dense(1)}:compile(o) end,
  {"optimizer", "optimizer", default = "sgd", aliases = {"optim"},
   doc = "an optimizer object or its name (\"adam\", \"sgd\", \"rmsprop\", \"adamw\"); default plain SGD (Keras's is rmsprop)"},
  {"loss", loss_type, default = "mse", doc = "a name, a loss object or a function(pred, target) -> scalar"},
  {"metrics", "any", doc = "a metric (a name or a function(pred, target)) or a list of them"},
  {"run_eagerly", "boolean", default = false,
   unsupported = "dagl always traces the training step into one graph; to debug, call the model on real tensors (model(x)), which runs every layer eagerly"},
  {"jit_compile", {"boolean", options.enum {"auto"}}, doc = "accepted for Keras code: the step is always compiled into a graph"},
  {"steps_per_execution", "integer", default = 1, unsupported = "one graph run per batch"},
  {"loss_weights", "any", unsupported = "one loss is summed over the outputs with weight 1"},
  {"weighted_metrics", "any", unsupported = "no sample weights"},
}

--- model:compile{optimizer = nn.SGD{...} | "adam", loss = "mse" | loss object | function(pred,
-- target), metrics = "accuracy" | {"accuracy", "mae", function(pred, target) ... end}}.
-- Every option is checked here (unknown names, loss and optimizer names, metric names), not at fit.
function Model:compile(...)
  local o = compile_options:parse(1, ...)
  local function get(f, v)
    local ok, res = pcall(f, v)
    if not ok then error("compile: " .. tostring(res):gsub("^.-:%d+: ", ""), 3) end
    return res
  end
  local loss = get(nn.losses.get, o.loss)
  -- a name given is already an optimizer (the "optimizer" type); the default is still its name
  local optimizer = type(o.optimizer) == "string" and get(nn.optimizers.get, o.optimizer) or o.optimizer
  local metrics, names = nn.metrics.list(o.metrics, 1), {}
  for i, m in ipairs(metrics) do
    if type(m) == "string" then get(function(v) return nn.metrics.get(v, loss, nil) end, m) end -- fits the loss?
    names[i] = type(m) == "string" and m or ("metric_" .. i)
  end
  -- everything checked: only now does the model change
  self.optimizer = optimizer
  self.loss, self.sparse = loss, loss.kind == "sparse"
  self.metrics, self.metric_names = metrics, names
  self.compile_config = options.given(o)
  self.metric_fns = nil
  self.step, self.dist_step, self.eval_step = nil, nil, nil
end

require("dagl.nn.training")(Model)

--- Writes every weight to path (dagl.nn.weights does the format).
function Model:save_weights(path, metadata, opts) return nn.save_weights(self, path, metadata, opts) end
--- Reads the weights written by save_weights into this model's tensors ({by_name = false}:
-- matched by architecture; see nn.load_weights).
function Model:load_weights(path, opts) return nn.load_weights(self, path, opts) end

--- model:get_layer(name or index): a layer of layer_list() by its name or 1-based position; an
-- error lists the names when there is none.
function Model:get_layer(key)
  local layers = self:layer_list()
  if math.type(key) == "integer" then
    if layers[key] then return layers[key] end
    error(("%s: no layer %d (the model has %d)"):format(self.name, key, #layers), 2)
  end
  local names = {}
  for i, l in ipairs(layers) do
    if l.name == key then return l end
    names[i] = l.name
  end
  error(("%s: no layer named '%s' (layers: %s)"):format(self.name, tostring(key), table.concat(names, ", ")), 2)
end

--- model:get_weights(): copies of every weight tensor, in the order of weights().
function Model:get_weights()
  local out = {}
  for i, w in ipairs(self:weights()) do out[i] = w:clone() end
  return out
end

--- model:set_weights(list): copies each tensor of list into the weight at the same position of
-- weights(), after checking the count and every shape (the error names the weight).
function Model:set_weights(list)
  local entries = self:weight_entries()
  if #entries == 0 then error(("%s: set_weights: the model has no weights yet (build it first)"):format(self.name), 2) end
  if type(list) ~= "table" or #list ~= #entries then
    error(("%s: set_weights needs %d tensors, got %s"):format(self.name, #entries,
      type(list) == "table" and #list or type(list)), 2)
  end
  for i, e in ipairs(entries) do
    local t = list[i]
    if not dagl.is_tensor(t) or not fn.internal.same_shape(t.shape, e.value.shape) then
      error(("%s: set_weights: weight %d (%s) has shape [%s], got %s"):format(self.name, i, e.name,
        table.concat(e.value.shape, ", "),
        dagl.is_tensor(t) and "[" .. table.concat(t.shape, ", ") .. "]" or ("a " .. type(t))), 2)
    end
  end
  for i, e in ipairs(entries) do e.value:copy(list[i]) end
end

--- The real tensor t as a symbol of like's trace (a weight inside a traced call, so that
-- gradients flow through what a layer computes from it, e.g. an add_loss regularizer); t
-- itself when like is not a traced symbol.
function nn.as_symbol(t, like)
  if not dagl.is_symbol(like) then return t end
  return fn.internal.new_sym(like.tracer, fn.internal.operand(like.tracer, t))
end

-- What a Sequential model can hold: layers, models and functions of a tensor (Keras's Lambda).
local function describe_item(v)
  if type(v) == "table" and rawget(v, "kind") and rawget(v, "__index") == v then
    return "a layer class, not a layer (call it: nn.Dense(8), not nn.Dense)"
  end
  if options.callable(v) and type(v) == "table" then
    return "a callable table that is not an nn layer (its tensors would not be weights: make it an nn.layer_class with add_weight)"
  end
  return options.show(v)
end
local function layer_items(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return false, "a list of layers" end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then return false, "a list of layers (no holes, no named entries)" end
  end
  for i, l in ipairs(v) do
    if not (is_layer(l) or type(l) == "function") then
      return false, ("a list of layers (nn layers, models or functions of a tensor); item %d is %s"):format(i, describe_item(l))
    end
  end
  return true, {table.unpack(v)}
end
options.type("layers", layer_items)

--- nn.Sequential(layer, layer, ...), nn.Sequential{layer, layer, ...} or
-- nn.Sequential{layers = {...}, name =}: layers applied in order. A first layer with
-- input_shape builds the model at once (Keras's Dense(64, {input_shape = {100}})).
local Sequential = Model:extend("sequential")
nn.Sequential = Sequential
local sequential_options = options.declare {name = "Sequential", path = "nn.Sequential", positional = {"layers"},
  varargs = true, probe = function(o) return nn.Sequential(o) end,
  {"layers", "layers", default = {}, doc = "the layers, in order (also given as the arguments themselves)"},
  {"name", "string"},
}
function Sequential:init(...)
  local first = ...
  local o
  if select("#", ...) >= 1 and type(first) == "table" and getmetatable(first) == nil and not options.is_options(first) then
    local args = {table.unpack(first)} -- Sequential({a, b} [, opts])
    args[#args + 1] = select(2, ...)
    o = sequential_options:parse(2, table.unpack(args))
  else
    o = sequential_options:parse(2, ...)
  end
  if o.name then self.name = o.name end
  self.layers = o.layers
  self._lists_layers = true
  self:build_if_shaped()
end

-- Builds the model when its first layer says its input shape (input_shape=), as Keras does.
function Sequential:build_if_shaped()
  local l1 = self.layers[1]
  local shape = type(l1) == "table" and rawget(l1, "input_shape")
  if shape then self:build({1, table.unpack(shape)}) end
end

--- model:add(layer): appends a layer (the model is built again when its input shape is known).
function Sequential:add(layer)
  local ok, why = layer_items({layer})
  if not ok then error(("Sequential:add: expected %s"):format(why:gsub("; item 1 is", ", got")), 2) end
  self.layers[#self.layers + 1] = layer
  self.output_shape, self.step, self.dist_step, self.eval_step, self.forward = nil, nil, nil, nil, nil
  if self.input_shape then self:build(self.input_shape) else self:build_if_shaped() end
end
function Sequential:call(x)
  for _, layer in ipairs(self.layers) do x = layer(x) end
  return x
end

--- Fraction of rows whose largest score is the label (labels as integers 0..n-1 or one-hot rows).
function nn.accuracy(scores, y)
  local labels = data.targets(y, true, scores.shape[#scores.shape])
  return nn.metrics.categorical_accuracy(scores, labels):item()
end
