--- dagl.nn.saving: whole models on disk (Keras's model.save; loading.lua reads them back).
-- model:save(path) writes one safetensors file: the weights (as save_weights does, so
-- load_weights reads it too) and, in the metadata, the architecture as JSON (model_config) and
-- the compile settings (compile_config) when they can be written down. nn.load_model(path)
-- rebuilds the model from its layer classes and configs (layer:get_config()), loads the weights
-- by architecture and compiles it again.
--
-- Layer classes are found by a registered name: every built-in class under its kind ("dense",
-- "conv2d", ...), custom classes once registered (nn.register_layer, Keras's
-- register_keras_serializable) or given at load (custom_objects). What a file cannot hold
-- raises at save, naming the layer: a function (an activation, initializer or regularizer given
-- as a Lua function, a function in a Sequential), an unregistered class, a subclassed model
-- (its architecture is Lua code).
local json = require "dagl.json"
local options = require "dagl.options"
local weights = require "dagl.nn.weights"

local nn = require "dagl.nn.base"

local FORMAT_VERSION = 1
local MODEL_KINDS = {sequential = true, functional = true} -- class names of the model entries

-- ---------------------------------------------------------------------------------------------
-- The registry of layer classes.
local custom = {} -- registered name -> class

-- Is v a layer class made by nn.layer_class (not a model class, not a layer)?
local function is_layer_class(v)
  if type(v) ~= "table" or rawget(v, "kind") == nil or rawget(v, "__index") ~= v then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__index == nn.Layer
end

-- The built-in layer classes by kind, from the nn table (aliases such as nn.MaxPooling2D are the
-- same class). Walked at each use, so classes added to nn later count too.
local function builtins()
  local out = {}
  for _, v in pairs(nn) do
    if is_layer_class(v) then out[v.kind] = v end
  end
  return out
end

--- nn.register_layer(name, class) -> class: makes a custom layer class known to model:save and
-- nn.load_model by `name` (Keras's register_keras_serializable). Registering a name again
-- replaces the class (a script run twice); the built-in names are refused.
function nn.register_layer(name, class)
  if type(name) ~= "string" or name == "" then
    error(("nn.register_layer: the name must be a non-empty string, got %s"):format(options.show(name)), 2)
  end
  if type(class) ~= "table" or not (class.new or class.from_config or options.callable(class)) then
    error(("nn.register_layer('%s', class): the class must be a layer class (nn.layer_class(kind)), got %s")
      :format(name, options.show(class)), 2)
  end
  local builtin = builtins()[name]
  if (builtin and builtin ~= class) or MODEL_KINDS[name] then
    error(("nn.register_layer: '%s' is the name of a built-in %s; register the class under another name")
      :format(name, MODEL_KINDS[name] and "model kind" or "layer class"), 2)
  end
  custom[name] = class
  return class
end

-- The registered name of a layer's class, or nil; custom registrations win over built-ins.
local function class_name(class)
  local names = {}
  for name, c in pairs(custom) do if c == class then names[#names + 1] = name end end
  table.sort(names)
  if names[1] then return names[1], true end
  if is_layer_class(class) and builtins()[class.kind] == class then return class.kind, false end
  return nil
end

-- A layer of `class` from its config: Class.from_config(config) when the class has one, else
-- the constructor Class(config).
local function make_layer(class, config)
  if class.from_config then return class.from_config(config) end
  if class.new then return class.new(config) end
  return class(config)
end

local bare = weights.bare

-- ---------------------------------------------------------------------------------------------
-- Saving: the JSON tree of a model.

-- An example of the name to give instead of a function, for an option's message.
local function name_example(option)
  if option:find("initializer", 1, true) then return '"glorot_uniform"' end
  if option:find("regularizer", 1, true) then return '"l2"' end
  return '"relu"'
end

-- Raises unless every value of the layer's config is something JSON holds (numbers, strings,
-- booleans, lists and tables of them); the message names the layer and the option.
local function check_config(layer, config)
  local function bad(v) -- what in v a file cannot hold, or nil
    if type(v) == "table" and getmetatable(v) == nil then
      for k, x in pairs(v) do
        if type(k) ~= "string" and math.type(k) ~= "integer" then return options.show(k) .. " as a key" end
        local why = bad(x)
        if why then return why end
      end
      return nil
    end
    if type(v) == "number" and (v ~= v or v == math.huge or v == -math.huge) then return tostring(v) end
    if type(v) == "string" or type(v) == "number" or type(v) == "boolean" then return nil end
    return options.callable(v) and "a function" or options.show(v)
  end
  local keys = {}
  for k in pairs(config) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local why = bad(config[k])
    if why == "a function" then
      error(("model:save: layer '%s': %s is a function, which a file cannot hold: give it by name (%s = %s), or save the weights alone with model:save_weights(path) and rebuild the model in code")
        :format(layer.name, tostring(k), tostring(k), name_example(tostring(k))), 0)
    elseif why then
      error(("model:save: layer '%s': the option %s holds %s, which a file cannot hold"):format(layer.name, tostring(k), why), 0)
    end
  end
end

-- Is the JSON of a equal to that of b (the same config once written)?
local function same_json(a, b)
  local ok1, ja = pcall(json.encode, a)
  local ok2, jb = pcall(json.encode, b)
  return ok1 and ok2 and ja == jb
end

-- A custom layer's config must rebuild it: the class made from the config (as nn.load_model
-- will) gives the same config back. Raises, naming the layer and what to do.
local function check_rebuilds(layer, class, name, config)
  local fix = "give the class a get_config() method returning a table of options that its constructor takes back (or a from_config(config) function in the class that makes the layer from it)"
  local ok, fresh = pcall(make_layer, class, json.decode(json.encode(config)))
  if not ok then
    error(("model:save: layer '%s' (class '%s') does not rebuild from its config (%s): %s"):format(layer.name, name,
      bare(fresh), fix), 0)
  end
  local ok2, again = pcall(function() return fresh:get_config() end)
  if not ok2 or not same_json(again, config) then
    error(("model:save: layer '%s' (class '%s'): the layer made from its config has another config (%s): %s")
      :format(layer.name, name, ok2 and json.encode(again) or bare(again), fix), 0)
  end
end

local model_entry

-- The entry of one item of a model: a layer {class_name, config, build_shape} or a nested
-- model; `where` names it for messages.
local function item_entry(item, owner, where)
  if type(item) == "function" then
    error(("model:save: %s: %s is a Lua function (a function in the model), whose code a file cannot hold: make it a layer class and register it (nn.register_layer), or save the weights with model:save_weights(path) and rebuild the model in code")
      :format(owner.name, where), 0)
  end
  if rawget(item, "_model") then return model_entry(item) end
  local class = getmetatable(item)
  local name, is_custom = class_name(class)
  if not name then
    local kind = type(class) == "table" and class.kind or "my_layer"
    error(("model:save: layer '%s' is of a class that is not registered, so the file cannot name it: register the class before saving (and before loading) with nn.register_layer(\"%s\", Class), Keras's register_keras_serializable")
      :format(item.name, kind), 0)
  end
  local ok, config = pcall(item.get_config, item)
  if not ok then error("model:save: " .. bare(config), 0) end
  if type(config) ~= "table" or getmetatable(config) ~= nil then
    error(("model:save: layer '%s': get_config() returned %s, not a table"):format(item.name, options.show(config)), 0)
  end
  check_config(item, config)
  if is_custom then check_rebuilds(item, class, name, config) end
  return {class_name = name, config = config, build_shape = rawget(item, "_build_shape")}
end

-- The index of each Keras tensor of a functional model: its inputs first, then the output of
-- each node in order.
local function tensor_indices(model)
  local index = {}
  for i, kt in ipairs(model.inputs) do index[kt] = i end
  for k, kt in ipairs(model.nodes) do index[kt] = #model.inputs + k end
  return index
end

-- The config of a functional model: its layers, inputs, nodes (a layer and the indices of its
-- input tensors) and outputs.
local function functional_config(model)
  local cfg = {name = model.name, layers = {}, inputs = {}, nodes = {}, outputs = {},
               multi_in = model.multi_in, multi_out = model.multi_out}
  local layer_index = {}
  for i, l in ipairs(model.layers) do
    layer_index[l] = i
    cfg.layers[i] = item_entry(l, model, "layer " .. i)
  end
  for i, kt in ipairs(model.inputs) do cfg.inputs[i] = {shape = kt.shape, dtype = kt.dtype, name = kt.name} end
  local index = tensor_indices(model)
  for k, kt in ipairs(model.nodes) do
    local ins = kt.node.inputs
    local list = nn.is_keras_tensor(ins) and {ins} or ins
    local refs = {}
    for j, src in ipairs(list) do refs[j] = index[src] end
    cfg.nodes[k] = {layer = layer_index[kt.node.layer], inputs = refs, list = not nn.is_keras_tensor(ins)}
  end
  for i, kt in ipairs(model.outputs) do cfg.outputs[i] = index[kt] end
  return cfg
end

--- The entry of a model: Sequential and functional models by their layers; a subclassed model
-- raises (its architecture is its Lua code).
function model_entry(model)
  local class = getmetatable(model)
  if class == nn.Sequential then
    local cfg = {name = model.name, layers = {}}
    for i, l in ipairs(model.layers) do cfg.layers[i] = item_entry(l, model, "item " .. i) end
    return {class_name = "sequential", config = cfg, input_shape = rawget(model, "input_shape")}
  elseif class == nn.Functional then
    return {class_name = "functional", config = functional_config(model)}
  end
  error(("model:save: %s is a subclassed model; its architecture is Lua code: save its weights with model:save_weights(path) and rebuild it in code")
    :format(model.name), 0)
end

-- {class_name =, config =} of an optimizer or loss object whose config rebuilds it: the first
-- of keys (names of constructors in table_) whose constructor, given the config, makes an object
-- of the same name; or nil and why not.
local function object_entry(what, obj, table_, config, keys)
  if type(config) ~= "table" then return nil, ("the %s %s has no config (give it by name)"):format(what, tostring(obj.name)) end
  if not pcall(json.encode, config) then
    return nil, ("the %s %s has a config a file cannot hold (a function, such as a schedule?)"):format(what, tostring(obj.name))
  end
  for _, k in ipairs(keys) do
    local ok, made = pcall(table_[k], json.decode(json.encode(config)))
    if ok and type(made) == "table" and made.name == obj.name then return {class_name = k, config = config} end
  end
  return nil, ("no constructor makes the %s %s again from its config"):format(what, tostring(obj.name))
end

-- The names of the loss classes (nn.losses.MeanSquaredError, ...), sorted.
local function loss_classes()
  local keys = {}
  for k, f in pairs(nn.losses) do
    if type(k) == "string" and k:match("^%u") and options.callable(f) then keys[#keys + 1] = k end
  end
  table.sort(keys)
  return keys
end

-- The compile settings as a JSON-able table, or nil and the reason they cannot be written.
local function compile_entry(model)
  local c = rawget(model, "compile_config")
  if not c then return nil, "the model is not compiled" end
  local out, why, keys = {}, nil, {}
  for k in pairs(c) do keys[#keys + 1] = k end
  table.sort(keys) -- the first reason is always the same one
  for _, k in ipairs(keys) do
    local v = c[k]
    if k == "optimizer" and type(v) ~= "string" then
      local opt = model.optimizer
      out[k], why = object_entry("optimizer", opt, nn, opt.config, options.callable(nn[opt.name]) and {opt.name} or {})
    elseif k == "loss" and type(v) ~= "string" then
      if type(v) ~= "table" or v.kind == "custom" then return nil, "the loss is a Lua function" end
      out[k], why = object_entry("loss", v, nn.losses, v.config or {from_logits = v.from_logits}, loss_classes())
    elseif not pcall(json.encode, v) then
      return nil, ("compile's %s holds a function"):format(k)
    else
      out[k] = v
    end
    if why then return nil, why end
  end
  return out
end

local save_options = options.declare {name = "save", path = "model:save",
  probe = function(o) weights.probe_file(function(m, path) nn.save_model(m, path, o) end) end,
  {"include_optimizer", "boolean", default = true,
   doc = "also the optimizer's state and step count (when the model is compiled), so that training resumes exactly"},
  {"overwrite", "boolean", default = true, unsupported = "the file is always replaced (atomically, through path.tmp)"},
}

-- Writes the model file (raises with level 0).
local function save(model, path, o)
  local meta = {model_config = json.encode({format_version = FORMAT_VERSION, model = model_entry(model)})}
  local compile, why = compile_entry(model)
  if compile then
    meta.compile_config = json.encode(compile)
  elseif rawget(model, "compile_config") then
    meta.compile_skipped = why -- nn.load_model returns the model uncompiled
  end
  weights.write(model, path, meta, o.include_optimizer, true, "model:save")
end

--- nn.save_model(model, path [, {include_optimizer = true}]): model:save as a function.
function nn.save_model(model, path, opts)
  local o = save_options:check(opts, 1)
  if type(model) ~= "table" or not rawget(model, "_model") then
    error(("model:save: expected a model, got %s"):format(options.show(model)), 2)
  end
  weights.at_caller(save, model, path, o)
end

--- model:save(path [, {include_optimizer = true}]): the architecture, weights and compile
-- settings in one safetensors file; nn.load_model(path) rebuilds the model.
function nn.Model:save(path, opts) return nn.save_model(self, path, opts) end

--- The {class_name =, config =} of a layer held by another layer (the recurrent layer of
-- nn.Bidirectional, the layer of nn.TimeDistributed), for the holder's get_config; the holder's
-- from_config gives it to nn.layer_from_entry.
function nn.layer_entry(layer)
  local e = item_entry(layer, layer, ("layer '%s'"):format(tostring(layer.name)))
  e.build_shape = nil -- the holder builds it
  return e
end

--- The layer of an entry that nn.layer_entry made (its class registered or built in).
function nn.layer_from_entry(entry)
  if type(entry) ~= "table" or type(entry.class_name) ~= "string" or type(entry.config) ~= "table" then
    error(("a nested layer must be {class_name =, config =}, got %s"):format(options.show(entry)), 0)
  end
  local class = custom[entry.class_name] or builtins()[entry.class_name]
  if not class then
    error(("a nested layer is of the class '%s', which is not registered (nn.register_layer)"):format(entry.class_name), 0)
  end
  return make_layer(class, entry.config)
end

--- The pieces that nn.load_model (loading.lua) shares.
return {FORMAT_VERSION = FORMAT_VERSION, MODEL_KINDS = MODEL_KINDS, custom = custom, builtins = builtins,
        make_layer = make_layer}
