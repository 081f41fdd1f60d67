-- Weights that cannot be lost: load_weights matches a file to a model by architecture (layer
-- order and shapes) whatever the automatic names (which come from process-wide counters, so the
-- same model built again is dense_3, not dense_1), by name on request; model:save and
-- nn.load_model keep the architecture (as JSON in the safetensors metadata) with the weights.
local dagl = require "dagl"
local nn = dagl.nn

local assert_raises, read_file = assert_raises, read_file

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

local function names_of(m)
  local out = {}
  for i, w in ipairs(nn.named_weights(m)) do out[i] = w.name end
  return out
end

-- Bitwise equality of two tensors (same shape, same values).
local function assert_same_tensor(a, b)
  assert.same(a.shape, b.shape)
  assert.same(a:totable(), b:totable())
end

-- A small model with automatic names and non-trainable weights (BatchNorm's moving stats).
local function mlp(width)
  local m = nn.Sequential{nn.Dense(4, "tanh"), nn.BatchNormalization(), nn.Dense(width or 2)}
  m:build{1, 3}
  return m
end

describe("load_weights by architecture", function()
  it("loads into the same architecture built again in the same process (fresh automatic names)", function()
    dagl.manual_seed(5)
    local a, b = mlp(), mlp()
    assert.are_not.same(names_of(a), names_of(b)) -- dense_1 vs dense_3
    a.layers[2].moving_mean:copy(dagl.tensor{0.1, 0.2, 0.3, 0.4}) -- not trainable, saved all the same
    local path = dir .. "/mlp.safetensors"
    a:save_weights(path)
    local x = dagl.randn(5, 3)
    assert.are_not.same(a:predict(x):totable(), b:predict(x):totable())
    b:load_weights(path)
    assert_same_tensor(a:predict(x), b:predict(x))
    assert_same_tensor(a.layers[2].moving_mean, b.layers[2].moving_mean)
    nn.load_weights(mlp(), path) -- the function form too
  end)

  it("names the first weight whose shape differs, and a different count", function()
    local a, path = mlp(), dir .. "/mlp2.safetensors"
    a:save_weights(path)
    local wide = mlp(5)
    local names, file = names_of(wide), names_of(a)
    assert.has_error(function() wide:load_weights(path) end, ("load_weights '%s': the file does not match the "
      .. "model's architecture: weight 7 is %s {4, 5} in the model but %s {4, 2} in the file (weights are matched "
      .. "by position, in layer order; give {by_name = true} to match them by name)"):format(path, names[7], file[7]))
    local short = nn.Sequential{nn.Dense(4, "tanh"), nn.BatchNormalization()}
    short:build{1, 3}
    assert_raises(function() short:load_weights(path) end, path,
      "the model has 6 weights and the file 8 (the file's weight 7, " .. file[7] .. " {4, 2}, has none in the model)")
    local long = nn.Sequential{nn.Dense(4, "tanh"), nn.BatchNormalization(), nn.Dense(2), nn.Dense(1)}
    long:build{1, 3}
    local lnames = names_of(long)
    assert_raises(function() long:load_weights(path) end,
      "the model has 10 weights and the file 8 (the model's weight 9, " .. lnames[9] .. " {2, 1}, has none in the file)")
  end)

  it("matches by name with {by_name = true}: the names must then be the same", function()
    local a, path = mlp(), dir .. "/mlp3.safetensors"
    a:save_weights(path)
    local file = names_of(a)
    local b = mlp()
    assert_raises(function() b:load_weights(path, {by_name = true}) end, path, "does not match the model",
      "missing: " .. names_of(b)[1], "unexpected: ", file[1])
    local named = nn.Sequential{nn.Dense(4, {name = "h"}), nn.Dense(2, {name = "o"})}
    named:build{1, 3}
    local path2 = dir .. "/named.safetensors"
    named:save_weights(path2)
    -- by name, the order of the layers does not matter
    local swapped = nn.Sequential{nn.Dense(4, {name = "o"}), nn.Dense(2, {name = "h"})}
    swapped:build{1, 3}
    assert_raises(function() swapped:load_weights(path2, {by_name = true}) end,
      "shape mismatch: o/kernel expected {3, 4}, found {4, 2}")
    assert_raises(function() b:load_weights(path, {byname = true}) end,
      "load_weights: unknown option 'byname' (did you mean 'by_name'?")
    assert_raises(function() b:load_weights(path, {by_name = 1}) end, "load_weights: by_name must be true or false, got 1")
    assert_raises(function() b:load_weights(path, {skip_mismatch = true}) end, "skip_mismatch = true is not supported")
  end)

  it("falls back to names for files that do not record their order", function()
    local a = nn.Sequential{nn.Dense(2, {name = "only"})}
    a:build{1, 3}
    local path = dir .. "/plain.safetensors"
    dagl.save_safetensors(path, {["only/kernel"] = dagl.ones(3, 2), ["only/bias"] = dagl.full({2}, 7)})
    a:load_weights(path)
    assert.same({7, 7}, a.layers[1].bias:totable())
    local other = nn.Sequential{nn.Dense(2)}
    other:build{1, 3}
    assert_raises(function() other:load_weights(path) end, "missing: " .. names_of(other)[1], "unexpected: only/bias")
  end)

  it("maps the optimizer's state through the same matching, so training resumes exactly", function()
    local function setup()
      dagl.manual_seed(2)
      local m = nn.Sequential{nn.Dense(4, "tanh"), nn.Dense(1)}
      m:compile{optimizer = "adam", loss = "mse"}
      m:build{1, 3}
      return m
    end
    local x = dagl.randn(8, 3)
    local y = x:sum(2, true)
    local a = setup()
    a:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0})
    local path = dir .. "/adam.safetensors"
    a:save_weights(path, nil, {include_optimizer = true})
    local b = setup()
    assert.are_not.same(names_of(a), names_of(b))
    b:load_weights(path)
    assert.equal(4, b.optimizer.iterations)
    local ha = a:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0})
    local hb = b:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0})
    assert.same(ha.loss, hb.loss)
    assert_same_tensor(a:predict(x), b:predict(x))
  end)

  it("refuses a damaged weight_order and reserved metadata keys", function()
    local a = mlp()
    local path = dir .. "/bad_order.safetensors"
    local tensors = {}
    for _, w in ipairs(nn.named_weights(a)) do tensors[w.name] = w.value end
    dagl.save_safetensors(path, tensors, {weight_order = '["a", '})
    assert_raises(function() a:load_weights(path) end, path, "weight_order metadata is not a JSON list of names",
      "the file is damaged")
    dagl.save_safetensors(path, tensors, {weight_order = '["nope"]'})
    assert_raises(function() a:load_weights(path) end, "lists 'nope' at position 1, but the file holds no such tensor")
    assert_raises(function() a:save_weights(path, {weight_order = "x"}) end, "the metadata key 'weight_order' is dagl's own")
    assert_raises(function() a:save_weights(path, nil, {include_optimiser = true}) end,
      "save_weights: unknown option 'include_optimiser' (did you mean 'include_optimizer'?")
  end)
end)

-- Saves m, loads it back (the file at dir/<name>.safetensors); returns the loaded model.
local function round_trip(m, name, opts)
  local path = dir .. "/" .. name .. ".safetensors"
  m:save(path)
  return nn.load_model(path, opts), path
end

describe("model:save and nn.load_model", function()
  it("round-trips a compiled Sequential CNN: the same predictions bit for bit, compiled again", function()
    dagl.manual_seed(7)
    local m = nn.Sequential{
      nn.Conv2D(4, 3, {activation = "relu", padding = "same"}), nn.MaxPool2D(2), nn.BatchNormalization{momentum = 0.5},
      nn.Conv2D(3, {2, 2}), nn.AvgPool2D{pool_size = 1}, nn.Flatten(), nn.Dropout(0.25),
      nn.Dense(8, "tanh", {kernel_initializer = "he_normal"}), nn.Dense(3, "softmax", {name = "head"})}
    m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
    local x, y = dagl.randn(6, 6, 6, 2), {0, 1, 2, 0, 1, 2}
    m:fit(x, y, {epochs = 2, batch_size = 3, shuffle = false, verbose = 0})
    local loaded = round_trip(m, "cnn")
    assert.equal(m.name, loaded.name)
    assert.equal("head", loaded.layers[9].name) -- names given are kept; automatic ones are fresh
    assert.are_not.equal(m.layers[1].name, loaded.layers[1].name)
    assert.equal(0.5, loaded.layers[3].momentum)
    assert.equal(0.25, loaded.layers[7].rate)
    assert_same_tensor(m.layers[3].moving_variance, loaded.layers[3].moving_variance)
    assert_same_tensor(m:predict(x), loaded:predict(x))
    assert.equal("Adam", loaded.optimizer.name)
    assert.equal(4, loaded.optimizer.iterations)
    assert.same({"accuracy"}, loaded.metric_names)
    local again = nn.load_model(dir .. "/cnn.safetensors", {compile = false})
    assert.is_nil(rawget(again, "optimizer"))
    again:load_weights(dir .. "/cnn.safetensors") -- the file is also a weights file of this architecture
    assert_same_tensor(m:predict(x), again:predict(x))
  end)

  it("keeps the optimizer's state: training the loaded model continues exactly", function()
    dagl.manual_seed(3)
    local m = nn.Sequential{nn.Dense(4, "tanh"), nn.BatchNormalization(), nn.Dense(1)}
    m:compile{optimizer = "rmsprop", loss = "mse"}
    local x = dagl.randn(8, 3)
    local y = x:sum(2, true)
    m:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0})
    local loaded = round_trip(m, "resume")
    local ha = m:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0})
    local hb = loaded:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0})
    assert.same(ha.loss, hb.loss)
    assert_same_tensor(m:predict(x), loaded:predict(x))
    m:save(dir .. "/bare.safetensors", {include_optimizer = false})
    assert.equal(0, nn.load_model(dir .. "/bare.safetensors").optimizer.iterations)
  end)

  it("round-trips an Embedding model and a Sequential built from input_shape", function()
    dagl.manual_seed(8)
    local m = nn.Sequential{nn.Embedding(10, 4), nn.Flatten(), nn.Dense(2)}
    local ids = dagl.tensor({{1, 2, 9}, {0, 0, 5}}, "int64")
    local want = m:predict(ids)
    assert_same_tensor(want, round_trip(m, "embedding"):predict(ids))
    local shaped = nn.Sequential{nn.Dense(3, "relu", {input_shape = {2}}), nn.Dense(1)}
    local loaded = round_trip(shaped, "shaped")
    assert.same(shaped.input_shape, loaded.input_shape)
    assert.truthy(loaded:summary(nil, {quiet = true}):find("Total params: 13", 1, true))
  end)

  it("round-trips a functional model with two inputs, a Concatenate and a nested Sequential", function()
    dagl.manual_seed(9)
    local a, b = nn.Input{3, name = "a"}, nn.Input{2}
    local ha = nn.Dense(4, "relu")(a)
    local tower = nn.Sequential{nn.Dense(4, "sigmoid"), nn.Dense(4)}
    local joined = nn.Concatenate()({ha, tower(b)})
    local out = nn.Dense(1)(joined)
    local m = nn.Model({a, b}, {out, ha}, {name = "two_in"})
    local xa, xb = dagl.randn(5, 3), dagl.randn(5, 2)
    local loaded = round_trip(m, "functional")
    assert.equal("two_in", loaded.name)
    assert.equal("a", loaded.inputs[1].name)
    local pm, pl = m:predict({xa, xb}), loaded:predict({xa, xb})
    assert_same_tensor(pm[1], pl[1])
    assert_same_tensor(pm[2], pl[2])
    assert.equal(#m:weights(), #loaded:weights())
  end)

  it("round-trips a layer shared by two nodes and a functional model inside a Sequential", function()
    dagl.manual_seed(12)
    local inp = nn.Input{4}
    local shared = nn.Dense(4, "relu")
    local inner = nn.Model(inp, nn.Add()({shared(inp), shared(shared(inp))}))
    local m = nn.Sequential{nn.Dense(4), inner, nn.LayerNormalization(), nn.Activation("gelu"), nn.Reshape{2, 2}}
    local x = dagl.randn(3, 5)
    local want = m:predict(x)
    local loaded = round_trip(m, "shared")
    assert.equal(#inner.nodes, #loaded.layers[2].nodes)
    assert.equal(2, #loaded.layers[2].layers) -- the shared Dense once, and the Add
    assert.equal(#m:weights(), #loaded:weights())
    assert_same_tensor(want, loaded:predict(x))
  end)

  it("writes a loss object of nn.losses with its options, and an optimizer by name or with its options", function()
    local m = nn.Sequential{nn.Dense(3)}
    m:compile{optimizer = "sgd", loss = nn.losses.CategoricalCrossentropy{from_logits = true}}
    m:build{1, 2}
    local loaded, path = round_trip(m, "loss_object")
    assert.equal("categorical_crossentropy", loaded.loss.name)
    assert.is_true(loaded.loss.from_logits)
    assert.equal("SGD", loaded.optimizer.name)
    local _, meta = dagl.load_safetensors(path)
    assert.is_nil(meta.compile_skipped)
    m:compile{optimizer = nn.Adam{learning_rate = 0.01, beta_1 = 0.8}, loss = "mae"}
    loaded = round_trip(m, "optimizer_object")
    assert.equal("Adam", loaded.optimizer.name)
    assert.same(m.optimizer.config, loaded.optimizer.config)
    assert.equal("mae", loaded.loss.name)
  end)

  it("saves and loads a model that is not built yet", function()
    local loaded = round_trip(nn.Sequential{nn.Dense(2, "relu"), nn.Dense(1)}, "unbuilt")
    assert.equal(0, #loaded:weights())
    assert.same({4, 1}, loaded:predict(dagl.ones(4, 3)).shape)
  end)

  it("loads without compiling when the compile settings cannot be written, and says why in the file", function()
    local m = nn.Sequential{nn.Dense(1)}
    m:compile{loss = function(p, t) return ((p - t) ^ 2):sum() end}
    m:build{1, 2}
    local loaded, path = round_trip(m, "custom_loss")
    assert.is_nil(rawget(loaded, "optimizer"))
    local _, meta = dagl.load_safetensors(path)
    assert.equal("the loss is a Lua function", meta.compile_skipped)
    assert.is_nil(meta.compile_config)
    -- an optimizer whose learning rate is a schedule (a Lua function)
    m:compile{optimizer = nn.Adam{lr = nn.schedules.exponential(0.1, 10, 0.5)}, loss = "mse"}
    loaded, path = round_trip(m, "schedule")
    assert.is_nil(rawget(loaded, "optimizer"))
    _, meta = dagl.load_safetensors(path)
    assert.truthy(meta.compile_skipped:find("the optimizer Adam has", 1, true), meta.compile_skipped)
  end)
end)

-- A custom layer as Keras users write one: its own options, get_config, registered by name.
local GatedDense = nn.layer_class("gated_dense")
function GatedDense.new(opts)
  local self = setmetatable({}, GatedDense)
  self.units = opts.units
  self:init{name = opts.name}
  return self
end
function GatedDense:build(shape)
  self.w = self:add_weight{name = "w", shape = {shape[#shape], self.units}}
  self.gate = self:add_weight{name = "gate", shape = {self.units}, initializer = "random_normal"}
end
function GatedDense:call(x) return x:matmul(self.w) * self.gate:sigmoid() end
function GatedDense:get_config() return {units = self.units, name = self.name} end

describe("custom layers in model files", function()
  it("round-trip once registered by name (or given at load with custom_objects)", function()
    nn.register_layer("gated_dense", GatedDense)
    dagl.manual_seed(10)
    local m = nn.Sequential{GatedDense{units = 3}, nn.Dense(1)}
    local x = dagl.randn(4, 2)
    m:build{4, 2}
    local loaded, path = round_trip(m, "custom")
    assert.equal(GatedDense, getmetatable(loaded.layers[1]))
    assert.equal(m.layers[1].name, loaded.layers[1].name) -- its get_config keeps the name
    assert_same_tensor(m:predict(x), loaded:predict(x))
    local other = nn.load_model(path, {custom_objects = {gated_dense = GatedDense}})
    assert_same_tensor(m:predict(x), other:predict(x))
    assert_raises(function() nn.register_layer("dense", GatedDense) end, "'dense' is the name of a built-in layer class")
    assert_raises(function() nn.register_layer("x", 3) end, "must be a layer class")
  end)

  it("an unregistered class raises at save, naming the layer and nn.register_layer", function()
    local Unknown = nn.layer_class("unknown_thing")
    function Unknown.new() local self = setmetatable({}, Unknown) self:init() return self end
    function Unknown:call(x) return x end
    local m = nn.Sequential{Unknown(), nn.Dense(1)}
    m:build{1, 2}
    assert_raises(function() m:save(dir .. "/u.safetensors") end, "model:save: layer '" .. m.layers[1].name ..
      "' is of a class that is not registered", 'nn.register_layer("unknown_thing", Class)')
  end)

  it("a class whose constructor does not take its config back raises at save", function()
    -- positional units, layer:init given only the common options: the config would be {name =}
    local Scale = nn.layer_class("scale_by")
    function Scale.new(factor) local self = setmetatable({}, Scale) self.factor = factor self:init() return self end
    function Scale:call(x) return x * self.factor end
    nn.register_layer("scale_by", Scale)
    local m = nn.Sequential{Scale(2)}
    assert_raises(function() m:save(dir .. "/s.safetensors") end, "model:save: layer '" .. m.layers[1].name ..
      "': get_config: the layer's constructor gave layer:init only the common options", "define get_config() in its class")
    -- a get_config that the constructor does not read back
    function Scale:get_config() return {factor = self.factor} end
    assert_raises(function() m:save(dir .. "/s.safetensors") end, "(class 'scale_by'): the layer made from its config has another config",
      "give the class a get_config() method")
  end)
end)

describe("what a model file cannot hold", function()
  it("an activation or regularizer given as a function raises, naming the layer and the option", function()
    local m = nn.Sequential{nn.Dense(2, {activation = function(x) return x:relu() end, name = "fd"})}
    assert.has_error(function() m:save(dir .. "/f.safetensors") end, "model:save: layer 'fd': activation is a function, "
      .. 'which a file cannot hold: give it by name (activation = "relu"), or save the weights alone with '
      .. "model:save_weights(path) and rebuild the model in code")
    local r = nn.Sequential{nn.Dense(2, {kernel_regularizer = nn.regularizers.l2(0.1), name = "rd"})}
    assert_raises(function() r:save(dir .. "/f.safetensors") end, "layer 'rd': kernel_regularizer is a function",
      'kernel_regularizer = "l2"')
    local s = nn.Sequential{nn.Dense(2), function(x) return x * 2 end}
    assert_raises(function() s:save(dir .. "/f.safetensors") end, "item 2 is a Lua function")
  end)

  it("a subclassed model raises, pointing to save_weights", function()
    local Net = nn.Model:extend("net")
    function Net:init() self.dense = nn.Dense(2) end
    function Net:call(x) return self.dense(x) end
    local net = Net()
    net(dagl.ones(1, 3))
    assert.has_error(function() net:save(dir .. "/net.safetensors") end, ("model:save: %s is a subclassed model; its "
      .. "architecture is Lua code: save its weights with model:save_weights(path) and rebuild it in code"):format(net.name))
    local outer = nn.Sequential{net}
    assert_raises(function() outer:save(dir .. "/net.safetensors") end, net.name .. " is a subclassed model")
  end)

  it("options are checked", function()
    local m = nn.Sequential{nn.Dense(1)}
    assert_raises(function() m:save(dir .. "/o.safetensors", {include_optimiser = false}) end,
      "save: unknown option 'include_optimiser' (did you mean 'include_optimizer'?")
    m:save(dir .. "/o.safetensors")
    assert_raises(function() nn.load_model(dir .. "/o.safetensors", {custom_object = {}}) end,
      "load_model: unknown option 'custom_object' (did you mean 'custom_objects'?")
    assert_raises(function() nn.load_model(dir .. "/o.safetensors", {custom_objects = {x = 1}}) end,
      "load_model: custom_objects must be a table {name = layer class, ...}")
  end)
end)

describe("damaged model files", function()
  local path = dir .. "/good.safetensors"
  local function good()
    local m = nn.Sequential{nn.Dense(3, "relu"), nn.Dense(1)}
    m(dagl.ones(1, 2))
    m:save(path)
    return m
  end

  it("a truncated or garbled file raises a clear error", function()
    good()
    local bytes = read_file(path)
    local cut = dir .. "/cut.safetensors"
    for _, n in ipairs {#bytes - 7, #bytes // 2, 12, 3, 0} do
      local f = assert(io.open(cut, "wb"))
      f:write(bytes:sub(1, n))
      f:close()
      assert_raises(function() nn.load_model(cut) end, "load_safetensors '" .. cut .. "'")
    end
    local f = assert(io.open(cut, "wb"))
    f:write(string.rep("\255", 64))
    f:close()
    assert_raises(function() nn.load_model(cut) end, cut)
  end)

  it("a damaged model_config, an unknown class or a weights-only file raise, naming the file", function()
    local m = good()
    local tensors, meta = dagl.load_safetensors(path)
    local bad = dir .. "/bad.safetensors"
    local function with(key, value)
      local copy = {}
      for k, v in pairs(meta) do copy[k] = v end
      copy[key] = value
      dagl.save_safetensors(bad, tensors, copy)
    end
    with("model_config", meta.model_config:sub(1, 40))
    assert_raises(function() nn.load_model(bad) end, "load_model '" .. bad .. "': the file's model_config is damaged (not JSON:")
    with("model_config", meta.model_config:gsub('"dense"', '"densse"', 1))
    assert_raises(function() nn.load_model(bad) end, "the model, layer 1 is of the class 'densse', which is not registered",
      "custom_objects = {densse = Class}")
    with("model_config", meta.model_config:gsub('"units":3', '"units":-3', 1))
    assert_raises(function() nn.load_model(bad) end, "the model, layer 1 (class 'dense') does not rebuild from its config",
      "units must be a positive integer")
    with("model_config", '{"format_version":9,"model":{}}')
    assert_raises(function() nn.load_model(bad) end, "format version 9; this dagl reads up to 1")
    with("model_config", '{"format_version":1,"model":{"class_name":"sequential","config":{"layers":5}}}')
    assert_raises(function() nn.load_model(bad) end, "model_config is damaged (the model has no list of layers)")
    with("model_config", meta.model_config:gsub('"build_shape":%[1,2%]', '"build_shape":[1,5]', 1))
    assert_raises(function() nn.load_model(bad) end, "weight 1 is", "{5, 3} in the model but", "{2, 3} in the file")
    m:save_weights(bad)
    assert_raises(function() nn.load_model(bad) end, "holds weights but no model", "model:load_weights(path)")
  end)
end)

describe("lua/dagl/json.lua (the JSON of model files)", function()
  local json = require "dagl.json"

  it("writes deterministically and reads back the same values, floats bit for bit", function()
    local v = {b = {1, 2.5, -0.0, 1 / 3, 1e300, 1 << 60}, a = "q\"\\\n\1é", c = true, d = {}}
    local text = json.encode(v)
    assert.equal(text, json.encode(json.decode(text)))
    local back = json.decode(text)
    assert.equal(1 / 3, back.b[4])
    assert.equal("integer", math.type(back.b[1]))
    assert.equal("float", math.type(back.b[2]))
    assert.equal("integer", math.type(back.b[6]))
    assert.equal(v.a, back.a)
    local prefix = '{"a":"q\\"\\\\\\n\\u0001é","b":'
    assert.equal(prefix, text:sub(1, #prefix)) -- keys sorted, escapes as JSON writes them
    assert.equal("😀", json.decode('"\\ud83d\\ude00"'))
    assert.equal(json.null, json.decode("[null]")[1])
  end)

  it("refuses what is not JSON, and values JSON cannot hold", function()
    for bad, why in pairs {["{"] = "expected a key", ["[1,]"] = "unexpected character", ["01"] = "bad number",
                           ["1."] = "bad number", ['{"a":1,"a":2}'] = "duplicate key 'a'", ["[1] x"] = "trailing characters",
                           ['"\\ud800"'] = "lone surrogate", [""] = "unexpected end", ['"\t"'] = "control character",
                           [string.rep("[", 300)] = "nesting deeper than 200"} do
      assert_raises(function() json.decode(bad) end, why)
    end
    assert_raises(function() json.encode({f = print}) end, "cannot write a function")
    assert_raises(function() json.encode({0 / 0}) end, "is not a JSON number")
    assert_raises(function() json.encode({1, x = 2}) end, "mixes list items and named fields")
    local loop = {}
    loop[1] = loop
    assert_raises(function() json.encode(loop) end, "contains itself")
    assert_raises(function() json.encode("\255") end, "not valid UTF-8")
  end)
end)
