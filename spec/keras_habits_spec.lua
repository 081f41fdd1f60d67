-- keras_habits_spec.lua -- issue 13's rows, as Keras and PyTorch users write them: each one now
-- does what such a user expects or raises a clear error at the call (never a model that trains
-- wrong without a word). Rows of other parts have their own specs: optimizers
-- (optimizer_formulas_spec), losses and callbacks (losses_callbacks_options_spec), readers,
-- dagl.trace, set_threads and dagl.grad (api_options_spec), in-place writes through expanded
-- views (inplace_overlap_spec), Lua nodes' backward in per-worker mode (luaop_backward_spec),
-- saving and loading (save_load_model_spec), Ctrl-C (interrupt_spec).
local dagl = require "dagl"
local nn = dagl.nn

local function raises(f, ...)
  local ok, err = pcall(f)
  assert.is_false(ok, "no error raised")
  for _, part in ipairs {...} do
    assert.truthy(tostring(err):find(part, 1, true), ("expected %q in: %s"):format(part, tostring(err)))
  end
  return err
end

-- Two interleaved spirals (n points each): a problem no linear model solves.
local function spirals(n)
  dagl.manual_seed(1)
  local xs, ys = {}, {}
  for i = 1, n do
    local t = i / n * 3 * math.pi
    local r = t / (3 * math.pi)
    for c = 0, 1 do
      local a = t + c * math.pi
      xs[#xs + 1] = {r * math.cos(a), r * math.sin(a)}
      ys[#ys + 1] = c
    end
  end
  return dagl.tensor(xs), ys
end

describe("Keras's positional forms", function()
  it("Dense(64, 'relu') keeps its activation: a spiral classifier learns and softmax rows sum to 1", function()
    local x, y = spirals(100)
    math.randomseed(2)
    local model = nn.Sequential{nn.Dense(64, "relu"), nn.Dense(64, "relu"), nn.Dense(2, "softmax")}
    model:compile{optimizer = nn.Adam{learning_rate = 0.01}, loss = "sparse_categorical_crossentropy", metrics = "accuracy"}
    local h = model:fit(x, y, {epochs = 150, batch_size = 50, verbose = 0})
    assert.is_true(h.accuracy[#h.accuracy] > 0.9, "spiral accuracy " .. h.accuracy[#h.accuracy])
    local p = model:predict(x)
    local sums = p:sum(2):totable()
    for i = 1, #sums do assert.is_true(math.abs(sums[i] - 1) < 1e-5) end
    local d = nn.Dense(4, "tanh")
    assert.equal(nn.activations.tanh, d.activation)
  end)

  it("Conv2D(filters, kernel_size, strides, padding) and pools in Keras's order", function()
    local c = nn.Conv2D(4, 3, 2, "same")
    assert.same({2, 2}, c.strides)
    assert.equal("same", c.padding)
    assert.same({1, 4, 4, 4}, c(dagl.zeros(1, 8, 8, 3)).shape)
    -- Conv2D(4, 3, "same") puts "same" where Keras puts strides: an error, not a silent default
    raises(function() nn.Conv2D(4, 3, "same") end, "Conv2D: strides must be a positive integer or {rows, cols}", "'same'")
    raises(function() nn.Conv2D(4, 3, {paddng = "same"}) end, "Conv2D: unknown option 'paddng' (did you mean 'padding'?")
    assert.same({2, 2}, nn.Conv2D(4, 3, {stride = 2}).strides) -- PyTorch's spelling
    raises(function() nn.Conv2D(4, 3, {data_format = "channels_first"}) end,
      "Conv2D: data_format = 'channels_first' is not supported")
    assert.same({1, 1}, nn.Conv2D(4, 3, {dilation_rate = {1, 1}, data_format = "channels_last"}).strides) -- defaults, written out
    raises(function() nn.Conv2D(4, 3, {dilation_rate = 2}) end, "Conv2D: dilation_rate = {2, 2} is not supported")
    local pool = nn.MaxPool2D(2, {stride = 1})
    assert.same({1, 1}, pool.strides)
    assert.same({1, 3, 3, 1}, pool(dagl.zeros(1, 4, 4, 1)).shape)
    assert.same({3, 3}, nn.MaxPool2D(2, 3).strides)
    assert.same({2, 2}, nn.AvgPool2D{pool_size = 2}.strides)
  end)

  it("Dropout(rate), Embedding(input_dim, output_dim), Dense{units = 8}, nn.Input{2}, nn.Model(inputs, outputs)", function()
    assert.equal(0.25, nn.Dropout(0.25).rate)
    local e = nn.Embedding(10, 3)
    assert.same({2, 3}, e(dagl.tensor({1, 2}, "int64")).shape)
    local d = nn.Dense{units = 8, activation = "relu"}
    assert.same({2, 8}, d(dagl.ones(2, 5)).shape)
    local inp = nn.Input{2}
    assert.same({2}, inp.shape)
    assert.same({3}, nn.Input{shape = {3}}.shape)
    local m = nn.Model(inp, nn.Dense(3)(inp))
    assert.same({4, 3}, m(dagl.ones(4, 2)).shape)
    raises(function() nn.Model(inp, dagl.ones(2)) end, "nn.Model: outputs must be a Keras tensor")
  end)

  it("input_shape builds the model, so summary() works before any call", function()
    local m = nn.Sequential{nn.Dense(64, "relu", {input_shape = {100}}), nn.Dense(10)}
    local text = m:summary(nil, {quiet = true})
    assert.truthy(text:find("Total params: " .. (100 * 64 + 64 + 64 * 10 + 10), 1, true), text)
    assert.equal(#m:weights(), 4)
    -- a first Embedding is built on int64 ids
    local e = nn.Sequential{nn.Embedding(10, 4, {input_shape = {5}}), nn.Flatten(), nn.Dense(2)}
    assert.same({1, 2}, e.output_shape)
  end)

  it("nn.Sequential(a, b) builds the two-layer model; never an empty one", function()
    assert.equal(2, #nn.Sequential(nn.Dense(4), nn.Dense(2)).layers)
    assert.equal(2, #nn.Sequential{nn.Dense(4), nn.Dense(2)}.layers)
    assert.equal(2, #nn.Sequential({nn.Dense(4), nn.Dense(2)}, {name = "two"}).layers)
    assert.equal(0, #nn.Sequential().layers)
    raises(function() nn.Sequential{nn.Dense} end, "item 1 is a layer class, not a layer")
    raises(function() nn.Sequential(nn.Dense(4), 5) end, "item 2 is 5")
  end)
end)

describe("layer options are checked when the layer is made", function()
  it("names the nearest option or says what a value must be", function()
    raises(function() nn.BatchNormalization{momentm = 0.9} end, "did you mean 'momentum'?")
    raises(function() nn.BatchNormalization{axis = 1} end, "Keras's axis=1 is dagl's axis = 2")
    raises(function() nn.LayerNormalization{epsilom = 1e-3} end, "did you mean 'epsilon'?")
    raises(function() nn.Concatenate{axes = 1} end, "did you mean 'axis'?")
    raises(function() nn.Dropout(0.5, {noise_shape = {1, 3}}) end, "noise_shape")
    assert.is_true(nn.Embedding(10, 3, {mask_zero = true}).mask_zero) -- masks propagate to recurrent layers
    raises(function() nn.Dense(8, {use_bias = "no"}) end, "Dense: use_bias must be true or false, got 'no'")
    raises(function() nn.Dense(0) end, "Dense: units must be a positive integer, got 0")
    raises(function() nn.Dense("8") end, "Dense: units must be a positive integer, got '8'")
    raises(function() nn.Dense(8, "rleu") end, "did you mean 'relu'?")
    raises(function() nn.Dense(8, "relu", 3) end, "takes at most 2 positional arguments")
    raises(function() nn.Dense(8, {kernel_regularizer = "L_2"}) end, "did you mean 'l2'?")
  end)

  it("BatchNormalization{axis = 2} normalizes dim 2 of a 4-d input", function()
    local bn = nn.BatchNormalization{axis = 2, epsilon = 0}
    local x = dagl.randn(3, 2, 4, 5)
    nn.training = true
    local y = bn(x)
    nn.training = false
    local m = y:mean({1, 3, 4}):totable()
    for _, v in ipairs(m) do assert.is_true(math.abs(v) < 1e-5) end
  end)

  it("honours bias_initializer, trainable, dtype and a regularizer by name", function()
    local d = nn.Dense(3, {bias_initializer = "ones"})
    d(dagl.ones(1, 2))
    assert.same({1, 1, 1}, d.bias:totable())
    local f64 = nn.Dense(3, {dtype = "float64"})
    assert.equal("float64", f64(dagl.ones(2, 2)):dtype())
    assert.equal("float64", f64.kernel:dtype())
    local frozen = nn.Dense(2, {trainable = false})
    local m = nn.Sequential{nn.Dense(2), frozen}
    m:build({1, 3})
    assert.equal(2, #m:trainable_weights())
    assert.equal(4, #m:weights())
    local r = nn.Dense(2, {kernel_regularizer = "l2"})
    assert.is_function(r.kernel_regularizer)
  end)

  it("initializers by name, as Keras's add_weight takes them", function()
    dagl.manual_seed(0)
    for _, name in ipairs {"random_normal", "random_uniform", "truncated_normal", "he_uniform", "he_normal",
                           "lecun_normal", "lecun_uniform", "glorot_normal", "glorot_uniform", "ones", "zeros",
                           "constant", "orthogonal"} do
      local t = nn.initializers[name]({6, 4}, "float32")
      assert.same({6, 4}, t.shape, name)
    end
    local q = nn.initializers.orthogonal({6, 4}, "float64")
    local qtq = q:t():matmul(q):totable()
    for i = 1, 4 do for j = 1, 4 do
      assert.is_true(math.abs(qtq[i][j] - (i == j and 1 or 0)) < 1e-10, "orthogonal columns")
    end end
    local r = nn.initializers.random_normal({200, 200})
    local std = (r * r):mean():sqrt():item()
    assert.is_true(math.abs(std - 0.05) < 0.002, "random_normal stddev " .. std)
    local lim = math.sqrt(6 / 100)
    assert.is_true(nn.initializers.he_uniform({100, 50}):abs():max():item() <= lim)
    assert.equal(3, nn.initializers.Constant(3)({2, 2}):totable()[1][1])
  end)

  it("Keras's activations by name", function()
    local x = dagl.tensor({-2, 0, 3}, "float64")
    local function at(name) return nn.activations[name](x):totable() end
    local e = math.exp
    local want = {
      elu = {e(-2) - 1, 0, 3},
      selu = {1.0507009873554805 * 1.6732632423543772 * (e(-2) - 1), 0, 1.0507009873554805 * 3},
      swish = {-2 / (1 + e(2)), 0, 3 / (1 + e(-3))},
      softplus = {math.log(1 + e(-2)), math.log(2), math.log(1 + e(3))},
      leaky_relu = {-0.4, 0, 3},
      hard_sigmoid = {-2 / 6 + 0.5, 0.5, 1},
      relu6 = {0, 0, 3},
    }
    for name, w in pairs(want) do
      local got = at(name)
      for i = 1, 3 do assert.is_true(math.abs(got[i] - w[i]) < 1e-12, name .. " at " .. i) end
    end
    assert.equal(nn.activations.swish, nn.activations.silu)
  end)
end)

describe("weights that cannot be lost", function()
  it("a custom layer holding self.w = dagl.randn(...) raises at build naming the field and add_weight", function()
    local Bad = nn.layer_class("pytorch_habit")
    function Bad.new() local s = setmetatable({}, Bad) s:init() return s end
    function Bad:build(shape) self.w = dagl.randn(shape[2], 1) end
    function Bad:call(x) return x:matmul(self.w) end
    raises(function() Bad()(dagl.ones(2, 3)) end, "field 'w' holds a tensor of shape [3, 1] that is not a weight",
      "add_weight")
  end)

  it("a Keras-style custom layer with add_weight{shape =, initializer = 'random_normal'} trains", function()
    local Linear = nn.layer_class("keras_linear")
    function Linear.new(units, opts)
      local s = setmetatable({}, Linear)
      s:init(opts)
      s.units = units
      return s
    end
    function Linear:build(shape)
      self.w = self:add_weight{name = "w", shape = {shape[#shape], self.units}, initializer = "random_normal"}
      self.b = self:add_weight{name = "b", shape = {self.units}, initializer = "zeros"}
    end
    function Linear:call(x) return x:matmul(self.w) + self.b end
    local m = nn.Sequential{Linear(1, {input_shape = {2}})}
    m:compile{optimizer = nn.SGD{learning_rate = 0.1}, loss = "mse"}
    local x = dagl.randn(64, 2)
    local y = x:matmul(dagl.tensor{{2}, {-1}})
    local h = m:fit(x, y, {epochs = 60, batch_size = 16, verbose = 0})
    assert.is_true(h.loss[#h.loss] < 0.01 * h.loss[1], "loss " .. h.loss[1] .. " -> " .. h.loss[#h.loss])
    raises(function() Linear(1, {unit = 3}) end, "unknown option 'unit'")
  end)

  it("fit refuses a model with nothing to train", function()
    local m = nn.Sequential{nn.Dense(1, {trainable = false})}
    m:compile{}
    raises(function() m:fit(dagl.ones(4, 2), dagl.ones(4, 1), {verbose = 0}) end, "has no trainable weights")
  end)
end)

describe("compile, fit, evaluate and predict take Keras's forms", function()
  local x, y = dagl.randn(16, 3), dagl.randn(16, 1)
  local function model() return nn.Sequential{nn.Dense(4, "relu"), nn.Dense(1)} end

  it("compile checks every option at the call", function()
    local m = model()
    raises(function() m:compile{optimiser = nn.Adam{}} end, "compile: unknown option 'optimiser' (did you mean 'optimizer'?")
    m:compile{optimizer = "adam", loss = "mse", metrics = "mae"}
    assert.equal("Adam", m.optimizer.name)
    assert.same({"mae"}, m.metric_names)
    raises(function() m:compile{run_eagerly = true} end, "run_eagerly = true is not supported")
    raises(function() m:compile{optimizer = "adma"} end, "did you mean 'adam'?")
    raises(function() m:compile{loss = "mse", metrics = "maee"} end, "compile: unknown metric 'maee'")
    assert.same({"mae"}, m.metric_names) -- a failed compile leaves the model as it was
  end)

  it("evaluate, predict and fit check their options; one callback needs no list", function()
    local m = model()
    m:compile{loss = "mse"}
    raises(function() m:evaluate(x, y, {batchsize = 8}) end, "evaluate: unknown option 'batchsize' (did you mean 'batch_size'?")
    assert.same({16, 1}, m:predict(x, {batch_size = 4}).shape)
    assert.same({16, 1}, m:predict(x, 4).shape)
    raises(function() m:fit(x, y, {epoch = 2}) end, "did you mean 'epochs'?")
    local seen = 0
    local h = m:fit(x, y, {epochs = 3, verbose = 0, callbacks = function() seen = seen + 1 end})
    assert.equal(3, seen)
    local stopper = nn.callbacks.early_stopping{monitor = "loss", patience = 1, min_delta = 1e9}
    h = m:fit(x, y, {epochs = 5, verbose = 0, callbacks = stopper})
    assert.equal(2, #h.loss) -- stopped: the callback was not ignored
    raises(function() m:fit(x, y, {callbacks = 5}) end, "fit: callbacks must be a callback or a list of callbacks")
    local logs = m:train_on_batch(x, y, {return_dict = true})
    assert.is_number(logs.loss)
  end)
end)
