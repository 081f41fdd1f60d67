--- dagl.nn.loading: nn.load_model (Keras's keras.models.load_model), the model that model:save
-- (saving.lua) wrote: the layers made again from their registered classes and configs and built
-- for the saved shapes (a functional model's graph recorded again from its nodes), the weights
-- loaded by architecture, and the model compiled with the saved settings and optimizer state.
-- A damaged file raises naming the file and what is wrong with it.
local json = require "dagl.json"
local options = require "dagl.options"
local saving = require "dagl.nn.saving"
local weights = require "dagl.nn.weights"

local nn = require "dagl.nn.base"
local bare, make_layer, custom = weights.bare, saving.make_layer, saving.custom
local FORMAT_VERSION, MODEL_KINDS = saving.FORMAT_VERSION, saving.MODEL_KINDS

-- Raises, naming the file, unless ok: the model_config is damaged (what says how).
local function expect(ctx, ok, what)
  if not ok then error(("load_model '%s': the file's model_config is damaged (%s)"):format(ctx.path, what), 0) end
end

-- Is v a table as JSON decodes one (an object or a list)?
local function is_plain(v) return type(v) == "table" and getmetatable(v) == nil end

local build_entry

-- The layers of a model entry's config, built from their entries.
local function build_items(ctx, cfg, where)
  expect(ctx, is_plain(cfg.layers), where .. " has no list of layers")
  local out = {}
  for i, e in ipairs(cfg.layers) do out[i] = build_entry(ctx, e, ("%s, layer %d"):format(where, i)) end
  return out
end

-- A Sequential model from its entry: its layers, then the build for the saved input shape.
local function build_sequential(ctx, entry, where)
  local cfg = entry.config
  local layers = build_items(ctx, cfg, where)
  local m = nn.Sequential(layers, {name = cfg.name})
  if is_plain(entry.input_shape) and not rawget(m, "output_shape") then m:build(entry.input_shape) end
  return m
end

-- A functional model from its entry: new Keras inputs, each node's layer called on the tensors
-- it took (recording the layer graph again), then nn.Model(inputs, outputs).
local function build_functional(ctx, entry, where)
  local cfg = entry.config
  local layers = build_items(ctx, cfg, where)
  expect(ctx, is_plain(cfg.inputs) and is_plain(cfg.nodes) and is_plain(cfg.outputs), where .. " lacks inputs, nodes or outputs")
  local tensors, inputs = {}, {}
  for i, inp in ipairs(cfg.inputs) do
    expect(ctx, is_plain(inp) and is_plain(inp.shape), ("%s: input %d has no shape"):format(where, i))
    inputs[i] = nn.Input(inp.shape, {dtype = inp.dtype, name = inp.name})
    tensors[i] = inputs[i]
  end
  for k, node in ipairs(cfg.nodes) do
    local layer = is_plain(node) and layers[node.layer]
    expect(ctx, layer and is_plain(node.inputs), ("%s: node %d names no layer of the model"):format(where, k))
    local args = {}
    for j, t in ipairs(node.inputs) do
      args[j] = tensors[t]
      expect(ctx, args[j] ~= nil, ("%s: node %d takes tensor %s, which comes later or not at all"):format(where, k, tostring(t)))
    end
    tensors[#cfg.inputs + k] = layer(node.list and args or args[1])
  end
  local outputs = {}
  for i, t in ipairs(cfg.outputs) do
    outputs[i] = tensors[t]
    expect(ctx, outputs[i] ~= nil, ("%s: output %d is tensor %s, which does not exist"):format(where, i, tostring(t)))
  end
  return nn.Model(cfg.multi_in and inputs or inputs[1], cfg.multi_out and outputs or outputs[1], {name = cfg.name})
end

-- A layer or model from its entry.
function build_entry(ctx, entry, where)
  expect(ctx, is_plain(entry) and type(entry.class_name) == "string" and is_plain(entry.config),
    where .. " is not {class_name =, config =}")
  local name = entry.class_name
  if name == "sequential" then return build_sequential(ctx, entry, where) end
  if name == "functional" then return build_functional(ctx, entry, where) end
  local class = ctx.classes[name] or custom[name] or ctx.builtin[name]
  if not class then
    error(("load_model '%s': %s is of the class '%s', which is not registered: register it with nn.register_layer(\"%s\", Class) before loading, or pass {custom_objects = {%s = Class}}")
      :format(ctx.path, where, name, name, name:match("^[%a_][%w_]*$") and name or ('["' .. name .. '"]')), 0)
  end
  local ok, layer = pcall(make_layer, class, entry.config)
  if not ok then
    error(("load_model '%s': %s (class '%s') does not rebuild from its config: %s"):format(ctx.path, where, name, bare(layer)), 0)
  end
  if entry.build_shape ~= nil then
    expect(ctx, is_plain(entry.build_shape), where .. ": build_shape is not a shape")
    local built, err = pcall(layer.ensure_built, layer, entry.build_shape)
    if not built then error(("load_model '%s': %s (class '%s') does not build: %s"):format(ctx.path, where, name, bare(err)), 0) end
  end
  return layer
end

-- Compiles the model with the saved settings (objects rebuilt from their class and config).
local function recompile(ctx, model, text)
  local ok, c = pcall(json.decode, text)
  if not ok or not is_plain(c) then
    error(("load_model '%s': the file's compile_config is damaged (%s)"):format(ctx.path, ok and "not an object" or c), 0)
  end
  local function rebuild(v, table_)
    if not is_plain(v) then return v end
    local f = type(v.class_name) == "string" and table_[v.class_name]
    if not f then
      error(("the file's compile_config names %s, which this dagl does not have"):format(options.show(v.class_name)), 0)
    end
    return f(v.config)
  end
  local done, err = pcall(function()
    c.optimizer = rebuild(c.optimizer, nn)
    c.loss = rebuild(c.loss, nn.losses)
    model:compile(c)
  end)
  if not done then error(("load_model '%s': compiling with the saved settings failed: %s"):format(ctx.path, bare(err)), 0) end
end

-- The custom_objects option: a table of registered names -> layer classes.
local function custom_objects(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return false, "a table {name = layer class, ...}" end
  for k, c in pairs(v) do
    if type(k) ~= "string" or type(c) ~= "table" then
      return false, "a table {name = layer class, ...}", ("the entry %s is not a name and a class"):format(options.show(k))
    end
  end
  return true
end

local load_options = options.declare {name = "load_model", path = "nn.load_model",
  probe = function(o) weights.probe_file(function(m, path) m:save(path) nn.load_model(path, o) end) end,
  {"custom_objects", custom_objects, default = {}, doc = "custom layer classes by their registered names, for this load only"},
  {"compile", "boolean", default = true, doc = "compile the model with the saved settings (when the file has them)"},
  {"safe_mode", "boolean", default = true, unsupported = "a dagl model file holds no code: loading never runs any"},
}

-- Reads the model file (raises with level 0).
local function load(path, o)
  local file, meta = weights.read(path)
  meta = meta or {}
  if meta.model_config == nil then
    error(("load_model '%s': the file holds weights but no model (no model_config in its metadata; written by save_weights?): build the model in code and call model:load_weights(path)")
      :format(path), 0)
  end
  local ctx = {path = path, classes = o.custom_objects, builtin = saving.builtins()}
  local ok, tree = pcall(json.decode, meta.model_config)
  expect(ctx, ok, "not JSON: " .. tostring(tree))
  expect(ctx, is_plain(tree) and math.type(tree.format_version) == "integer", "no format_version")
  if tree.format_version > FORMAT_VERSION then
    error(("load_model '%s': the file is of format version %d; this dagl reads up to %d (written by a newer dagl)")
      :format(path, tree.format_version, FORMAT_VERSION), 0)
  end
  expect(ctx, is_plain(tree.model) and MODEL_KINDS[tree.model.class_name], "the model is neither sequential nor functional")
  local built, model = pcall(build_entry, ctx, tree.model, "the model")
  if not built then
    local msg = bare(model)
    error(msg:find("^load_model ") and msg or ("load_model '%s': rebuilding the model failed: %s"):format(path, msg), 0)
  end
  if o.compile and meta.compile_config then recompile(ctx, model, meta.compile_config) end
  weights.assign(model, path, file, meta, false)
  return model
end

--- nn.load_model(path [, {custom_objects = {name = Class}, compile = true}]) -> the model
-- model:save wrote: the same architecture (fresh automatic names; names you gave are kept),
-- weights, and, when the file has its compile settings, compiled with the optimizer's state.
function nn.load_model(path, opts)
  local o = load_options:check(opts, 1)
  if type(path) ~= "string" then error(("load_model: the path must be a string, got %s"):format(options.show(path)), 2) end
  local model = weights.at_caller(load, path, o) -- not a tail call: at_caller counts this frame
  return model
end

return nn
