-- dagl.nn models: functional (branch, merge, several inputs), subclassed, the training protocol
-- (add_loss / add_update / non-trainable weights), callbacks, metrics, losses and SGD's formulas,
-- each against a computation written out by hand.
local dagl = require "dagl"
local nn = dagl.nn

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-5) * (1 + math.abs(b)) end

-- Asserts two tensors (or nested tables) agree elementwise.
local function assert_close(got, want, tol)
  local g = type(got) == "table" and got or got:view(-1):totable()
  local w = type(want) == "table" and want or want:view(-1):totable()
  assert.equal(#w, #g)
  for i = 1, #w do assert.is_true(close(g[i], w[i], tol), ("at %d: %g vs %g"):format(i, g[i], w[i])) end
end

-- A tiny merge layer written with dagl ops: the sum of a list of inputs.
local Sum = nn.layer_class("sum_merge")
function Sum.new(opts)
  local self = setmetatable({}, Sum)
  self:init(opts)
  return self
end
function Sum:call(xs)
  local acc = xs[1]
  for i = 2, #xs do acc = acc + xs[i] end
  return acc
end

-- Dense's formula on real tensors.
local function dense(x, layer, act)
  local y = x:matmul(layer.kernel) + layer.bias
  return act and y[act](y) or y
end

describe("functional models", function()
  it("branch and merge: predicts the hand-written computation and trains", function()
    dagl.manual_seed(11)
    math.randomseed(11)
    local inp = nn.Input{shape = {4}}
    local d1, d2, d3 = nn.Dense(3, {activation = "relu"}), nn.Dense(3, {activation = "tanh"}), nn.Dense(1)
    local a, b = d1(inp), d2(inp)
    assert.same({3}, a.shape)
    local out = d3(Sum()({a, b}))
    local model = nn.Model{inputs = inp, outputs = out}
    assert.equal(6, #model:weights())
    local text = model:summary(nil, {quiet = true})
    assert.matches("Total params: 34", text) -- 4*3+3 twice, 3+1
    assert.matches("sum_merge_%d+%s+%(None, 3%)", text)
    local x = dagl.randn(20, 4)
    local want = dense(dense(x, d1, "relu") + dense(x, d2, "tanh"), d3)
    assert_close(model:predict(x), want)
    assert_close(model(x), want) -- eager call replays the same graph
    local y = x:sum(2, true) * 0.5
    model:compile{optimizer = nn.SGD{lr = 0.05}, loss = "mse"}
    local h = model:fit(x, y, {epochs = 30, batch_size = 5, verbose = false})
    assert.is_true(h.loss[30] < h.loss[1] * 0.5, ("loss %g -> %g"):format(h.loss[1], h.loss[30]))
    assert_close(model:predict(x), dense(dense(x, d1, "relu") + dense(x, d2, "tanh"), d3)) -- trained weights used
  end)

  it("takes several inputs as a list of tensors", function()
    dagl.manual_seed(12)
    local i1, i2 = nn.Input{shape = {3}}, dagl.input{shape = {2}} -- dagl.input is nn.Input
    local da, db, dout = nn.Dense(4), nn.Dense(4), nn.Dense(2)
    local model = nn.Model{inputs = {i1, i2}, outputs = dout(Sum()({da(i1), db(i2)}))}
    local x1, x2 = dagl.randn(10, 3), dagl.randn(10, 2)
    local want = dense(dense(x1, da) + dense(x2, db), dout)
    assert_close(model:predict({x1, x2}), want)
    local y = {}
    for i = 1, 10 do y[i] = i % 2 end
    model:compile{optimizer = nn.SGD{lr = 0.1}, loss = nn.losses.SparseCategoricalCrossentropy{from_logits = true},
                  metrics = {"accuracy"}}
    local h = model:fit({x1, x2}, y, {epochs = 20, batch_size = 4, verbose = false, validation_data = {{x1, x2}, y}})
    assert.is_true(h.loss[20] < h.loss[1])
    assert.equal(20, #h.val_accuracy)
    local loss, acc = model:evaluate({x1, x2}, y)
    assert.is_true(close(loss, h.val_loss[20], 1e-4))
    assert.is_true(acc >= 0 and acc <= 1)
  end)

  it("has several outputs: predict returns a list, fit sums the losses", function()
    dagl.manual_seed(14)
    local inp = nn.Input{shape = {3}}
    local hidden, head1, head2 = nn.Dense(4, {activation = "tanh"}), nn.Dense(1), nn.Dense(2)
    local h = hidden(inp)
    local model = nn.Model{inputs = inp, outputs = {head1(h), head2(h)}}
    local x = dagl.randn(10, 3)
    local y1, y2 = x:sum(2, true), x:slice(2, 1, 2):contiguous()
    local p = model:predict(x, 4) -- batches of 4, 4, 2 put back together
    local hx = dense(x, hidden, "tanh")
    assert_close(p[1], dense(hx, head1))
    assert_close(p[2], dense(hx, head2))
    model:compile{loss = "mse", optimizer = nn.SGD{lr = 0.1}}
    local want = nn.losses.mse(p[1], y1):item() + nn.losses.mse(p[2], y2):item()
    assert.is_true(close(model:evaluate(x, {y1, y2}), want))
    local hist = model:fit(x, {y1, y2}, {epochs = 5, verbose = false})
    assert.is_true(hist.loss[5] < hist.loss[1])
    assert.has_error(function() model:fit(x, {y1}, {verbose = false}) end, "fit: the model has 2 outputs, got 1 targets")
  end)

  it("nests a model as a layer and explains bad graphs", function()
    local inner_in = nn.Input{shape = {2}}
    local inner = nn.Model{inputs = inner_in, outputs = nn.Dense(3)(inner_in)}
    local inp = nn.Input{shape = {2}}
    local outer = nn.Model{inputs = inp, outputs = nn.Dense(1)(inner(inp))}
    assert.equal(4, #outer:weights())
    assert.same({5, 1}, outer:predict(dagl.ones(5, 2)).shape)
    local other = nn.Input{shape = {2}}
    assert.has_error(function() nn.Model{inputs = inp, outputs = nn.Dense(1)(other)} end,
      "nn.Model: the outputs depend on " .. other.name .. ", which is not among the inputs")
    assert.has_error(function() return inp + inp end)
  end)
end)

describe("get_layer, get_weights and set_weights", function()
  it("find layers by name or position and copy weights between models, checking shapes", function()
    local function mlp()
      return nn.Sequential{nn.Dense(4, {name = "hidden"}), nn.BatchNormalization{name = "bn"}, nn.Dense(2, {name = "out"})}
    end
    local a, b = mlp(), mlp()
    a:build{3, 5}
    b:build{3, 5}
    assert.equal(a.layers[3], a:get_layer("out"))
    assert.equal(a.layers[2], a:get_layer(2))
    assert.has_error(function() a:get_layer("nope") end,
      a.name .. ": no layer named 'nope' (layers: hidden, bn, out)")
    assert.has_error(function() a:get_layer(4) end, a.name .. ": no layer 4 (the model has 3)")
    local ws = a:get_weights()
    assert.equal(8, #ws) -- kernels, biases, gamma, beta and BatchNorm's two statistics
    ws[1]:copy(ws[1] + 1) -- copies: the model's weights do not change
    local function same(t, u) return (t - u):abs():max():item() == 0 end
    assert.is_false(same(ws[1], a:weights()[1]))
    local x = dagl.randn(3, 5)
    assert.is_false(same(a:predict(x), b:predict(x)))
    b:set_weights(a:get_weights())
    assert.is_true(same(a:predict(x), b:predict(x)))
    assert.has_error(function() b:set_weights({dagl.ones(2)}) end, b.name .. ": set_weights needs 8 tensors, got 1")
    local unbuilt = mlp()
    assert.has_error(function() unbuilt:set_weights(ws) end,
      unbuilt.name .. ": set_weights: the model has no weights yet (build it first)")
    local bad = a:get_weights()
    bad[3] = dagl.ones(3)
    assert.has_error(function() b:set_weights(bad) end,
      b.name .. ": set_weights: weight 3 (" .. b:weight_entries()[3].name .. ") has shape [4], got [3]")
  end)
end)

describe("subclassed models", function()
  it("finds layers in fields, builds from the input shape and trains", function()
    dagl.manual_seed(13)
    local MyModel = nn.Model:extend()
    function MyModel:init(units)
      self.hidden = nn.Dense(units, {activation = "tanh"})
      self.heads = {nn.Dense(1), nn.Dense(1)}
    end
    function MyModel:build(input_shape) -- layers that need the input width
      self.skip = nn.Dense(1, {use_bias = false})
      self.width = input_shape[2]
    end
    function MyModel:call(x)
      local h = self.hidden(x)
      return self.heads[1](h) + self.heads[2](h) + self.skip(x)
    end
    local model = MyModel(5)
    assert.same({7, 1}, model:build{7, 3})
    assert.equal(3, model.width)
    assert.equal(7, #model:weights()) -- hidden 2, heads 2 + 2, skip 1
    local x = dagl.randn(16, 3)
    local h = dense(x, model.hidden, "tanh")
    local want = dense(h, model.heads[1]) + dense(h, model.heads[2]) + x:matmul(model.skip.kernel)
    assert_close(model:predict(x), want)
    model:compile{optimizer = nn.Adam{lr = 0.01}, loss = "mae"}
    local hist = model:fit(x, x:sum(2, true), {epochs = 25, batch_size = 8, verbose = false})
    assert.is_true(hist.loss[25] < hist.loss[1])
    assert.matches("Trainable params: 35", model:summary(nil, {quiet = true})) -- 3*5+5 + 2*(5+1) + 3
  end)
end)

describe("training protocol", function()
  -- y = x * w, with an L2 add_loss, a step counter and the batch mean as add_updates, and a
  -- non-trainable weight entry.
  local Probe = nn.layer_class("probe")
  function Probe.new(c)
    local self = setmetatable({}, Probe)
    self:init()
    self.c = c
    return self
  end
  function Probe:build(shape)
    self.w = self:add_weight("w", dagl.ones(shape[2]))
    self.count = self:add_weight("count", dagl.zeros(1), {trainable = false})
    self._seen = dagl.zeros(1) -- not a weight: a leading "_" keeps it out of the model
  end
  function Probe:call(x)
    if nn.training then
      local w = nn.as_symbol(self.w, x) -- the weight in the trace, so the gradient sees the term
      nn.add_loss((w * w):sum() * self.c)
      -- as_symbol: the count read at each run (self.count + 1 would be computed once, eagerly)
      nn.add_update(self.count, nn.as_symbol(self.count, x) + 1)
      nn.add_update(self._seen, x:mean():reshape(1))
    end
    return x * self.w
  end

  it("adds add_loss terms to the gradient and applies add_update after each step", function()
    local probe = Probe(0.25)
    local model = nn.Sequential{probe}
    local x = dagl.tensor{{1, 2}, {3, -1}, {0.5, 4}}
    local y = dagl.tensor{{2, 1}, {0, 1}, {1, 1}}
    model:compile{optimizer = nn.SGD{lr = 0.1}, loss = "mse"}
    model:fit(x, y, {epochs = 1, batch_size = 3, shuffle = false, verbose = false})
    -- d/dw_j of mean((x w - y)^2) + c sum(w^2) at w = 1, over the 6 elements
    local want = {}
    local xs, ys = x:totable(), y:totable()
    for j = 1, 2 do
      local g = 0
      for i = 1, 3 do g = g + 2 / 6 * (xs[i][j] - ys[i][j]) * xs[i][j] end
      want[j] = 1 - 0.1 * (g + 2 * 0.25)
    end
    assert_close(probe.w, want)
    assert.equal(1, probe.count:item())
    assert.is_true(close(probe._seen:item(), x:mean():item()))
    model:fit(x, y, {epochs = 2, batch_size = 2, shuffle = false, verbose = false})
    assert.equal(5, probe.count:item()) -- two batches per epoch
    assert.is_true(close(probe._seen:item(), 4.5 / 2)) -- the last batch: row 3
    model:predict(x)
    model:evaluate(x, y)
    assert.equal(5, probe.count:item()) -- inference traces collect nothing
    assert.is_false(nn.training)
    assert.equal(1, #model:trainable_weights())
    assert.equal(2, #model:weights())
    assert.matches("Non%-trainable params: 1", model:summary(nil, {quiet = true}))
  end)

  it("lets optimizers skip weight entries marked trainable = false", function()
    local a, b = dagl.ones(2), dagl.ones(2)
    nn.SGD{lr = 1}.apply({{value = a}, {value = b, trainable = false}}, {dagl.ones(2), dagl.ones(2)})
    assert.same({0, 0}, a:totable())
    assert.same({1, 1}, b:totable())
  end)
end)

describe("callbacks", function()
  -- A linear regression that fits quickly.
  local function regression()
    dagl.manual_seed(21)
    local model = nn.Sequential{nn.Dense(1)}
    model:compile{optimizer = nn.SGD{lr = 0.05}, loss = "mse"}
    local x = dagl.randn(32, 3)
    return model, x, x:matmul(dagl.tensor{{1}, {-2}, {0.5}})
  end

  it("runs functions after each epoch and table hooks in order; false stops", function()
    local model, x, y = regression()
    local calls = {}
    local hooks = {name = "recorder"}
    function hooks:on_train_begin() calls[#calls + 1] = "train_begin" assert.equal(model, self.model) end
    function hooks:on_epoch_begin(e) calls[#calls + 1] = "begin" .. e end
    function hooks:on_batch_end(b, logs) if b == 1 then calls[#calls + 1] = "batch" .. logs.size end end
    function hooks:on_epoch_end(e, logs) calls[#calls + 1] = ("end%d:%s"):format(e, logs.loss and "loss" or "?") end
    function hooks:on_train_end() calls[#calls + 1] = "train_end" end
    local seen = {}
    local fn_cb = function(epoch, logs, m)
      seen[#seen + 1] = {epoch, logs.loss, m}
      if epoch == 2 then return false end
    end
    local h = model:fit(x, y, {epochs = 5, batch_size = 16, verbose = false, callbacks = {hooks, fn_cb}})
    assert.same({"train_begin", "begin1", "batch16", "end1:loss", "begin2", "batch16", "end2:loss", "train_end"}, calls)
    assert.equal(2, #seen)
    assert.equal(model, seen[1][3])
    assert.equal(h.loss[2], seen[2][2])
    assert.equal(2, h.stopped_epoch)
  end)

  it("stops early in fit and honours model.stop_training", function()
    local model, x, y = regression()
    local stop = nn.callbacks.early_stopping{monitor = "loss", patience = 2, min_delta = 1e9}
    local h = model:fit(x, y, {epochs = 10, verbose = false, callbacks = {stop}})
    assert.equal(3, #h.loss) -- epoch 1 sets the best; two epochs without a 1e9 improvement
    local h2 = model:fit(x, y, {epochs = 10, verbose = false, callbacks = {{on_epoch_end = function(self, e)
      if e == 4 then self.model.stop_training = true end
    end}}})
    assert.equal(4, h2.stopped_epoch)
  end)

  it("checkpoints through model:save_weights (best epochs only, or every epoch)", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local model, x, y = regression()
    local ckpt = nn.callbacks.model_checkpoint{path = dir .. "/w_{epoch}.safetensors", monitor = "val_loss",
                                               save_best_only = true}
    local h = model:fit(x, y, {epochs = 4, verbose = false, validation_data = {x, y}, callbacks = {ckpt}})
    local best, best_epoch = math.huge, nil
    for e = 1, 4 do
      local exists = io.open(dir .. "/w_" .. e .. ".safetensors") ~= nil
      if h.val_loss[e] < best then
        best, best_epoch = h.val_loss[e], e
        assert.is_true(exists, "epoch " .. e .. " improved but was not saved")
      else
        assert.is_false(exists, "epoch " .. e .. " did not improve but was saved")
      end
    end
    -- the last checkpoint holds the weights of its epoch: loading it back restores them
    local saved = dagl.load_safetensors(dir .. "/w_" .. best_epoch .. ".safetensors")
    local before = {}
    for _, w in ipairs(model:weight_entries()) do before[w.name] = w.value:clone() end
    for _, w in ipairs(model:weight_entries()) do w.value:fill(0) end
    model:load_weights(dir .. "/w_" .. best_epoch .. ".safetensors")
    for _, w in ipairs(model:weight_entries()) do
      assert.is_true(saved[w.name] ~= nil, w.name)
      assert.equal(0, (w.value - saved[w.name]):abs():max():item())
    end
    local every = nn.callbacks.model_checkpoint{path = dir .. "/last.safetensors"}
    model:fit(x, y, {epochs = 2, verbose = false, callbacks = {every}})
    local last = dagl.load_safetensors(dir .. "/last.safetensors")
    for _, w in ipairs(model:weight_entries()) do
      assert.equal(0, (w.value - last[w.name]):abs():max():item())
    end
    os.execute("rm -rf " .. dir)
    assert.is_true(next(before) ~= nil)
  end)

  it("names a failing callback and keeps the training state", function()
    local model, x, y = regression()
    local bad = {name = "exploder", on_epoch_end = function(_, e) if e == 2 then error("boom") end end}
    local ok, err = pcall(model.fit, model, x, y, {epochs = 5, verbose = false, callbacks = {bad}})
    assert.is_false(ok)
    assert.matches("callback 1 %('exploder'%) failed in on_epoch_end at epoch 2: .*boom", err)
    assert.equal(2, #model.history.loss) -- the epochs that ran are recorded
    assert.is_false(nn.training)
    local anon = function() error("plain") end
    local _, err2 = pcall(model.fit, model, x, y, {epochs = 1, verbose = false, callbacks = {anon}})
    assert.matches("callback 1 %(defined at .*models_spec.lua:%d+%) failed in on_epoch_end at epoch 1", err2)
    local h = model:fit(x, y, {epochs = 3, verbose = false}) -- still trains
    assert.is_true(h.loss[3] < model.history.loss[1] or h.loss[3] < 1e-3)
  end)
end)

describe("metrics", function()
  it("reports accuracy (binary by the loss), mae and mse as computed by hand", function()
    local layer = nn.Dense(1, {activation = "sigmoid"})
    local model = nn.Sequential{layer}
    model:build{1, 2}
    layer.kernel:copy(dagl.tensor{{1}, {-1}})
    layer.bias:fill(0.1)
    local x = dagl.tensor{{1, 0}, {0, 1}, {2, 2}, {-1, 3}, {0.5, 0.2}, {3, -1}, {-2, -2}}
    local y = {1, 0, 0, 1, 1, 1, 0}
    model:compile{loss = "binary_crossentropy", metrics = {"accuracy", "mae", "mse"}}
    local p = model:predict(x):view(-1):totable()
    local good, ae, se, bce = 0, 0, 0, 0
    for i, pi in ipairs(p) do
      if (pi > 0.5 and 1 or 0) == y[i] then good = good + 1 end
      ae, se = ae + math.abs(pi - y[i]), se + (pi - y[i]) ^ 2
      bce = bce - (y[i] * math.log(pi) + (1 - y[i]) * math.log(1 - pi))
    end
    local loss, acc, mae, mse = model:evaluate(x, y, {batch_size = 3}) -- batches of 3, 3, 1
    assert.is_true(close(loss, bce / 7))
    assert.is_true(close(acc, good / 7))
    assert.is_true(close(mae, ae / 7))
    assert.is_true(close(mse, se / 7))
  end)

  it("reports categorical accuracy for sparse labels and checks metric names", function()
    local layer = nn.Dense(3)
    local model = nn.Sequential{layer}
    model:build{1, 2}
    layer.kernel:copy(dagl.tensor{{1, 0, -1}, {0, 1, 1}})
    layer.bias:fill(0)
    local x = dagl.tensor{{1, 0}, {0, 1}, {-1, 1}, {2, 1}}
    -- argmax rows: 0, {1,2 tie -> 1 first}, 2, 0
    model:compile{loss = nn.losses.SparseCategoricalCrossentropy{from_logits = true}, metrics = {"accuracy"}}
    local _, acc = model:evaluate(x, {0, 2, 2, 1})
    assert.is_true(close(acc, 2 / 4))
    assert.is_true(close(nn.accuracy(model:predict(x), {0, 2, 2, 1}), 0.5))
    -- metric names are checked by compile itself, not at the first evaluate or fit
    assert.has_error(function() model:compile{loss = "mse", metrics = {"sparse_categorical_accuracy"}} end,
      "compile: metric sparse_categorical_accuracy needs a sparse loss (labels are made one-hot for it)")
    local ok, err = pcall(model.compile, model, {loss = "mse", metrics = {"precisionish"}})
    assert.is_false(ok)
    assert.matches("^compile: unknown metric 'precisionish' %(metrics: acc, accuracy, binary_accuracy, ", err)
  end)
end)

describe("losses", function()
  local L = nn.losses
  local function sigmoid(z) return 1 / (1 + math.exp(-z)) end

  it("computes mse, mae and binary cross-entropy (probabilities and logits) by hand", function()
    local p, y = dagl.tensor{{0.2}, {0.9}, {0.6}}, dagl.tensor{0, 1, 1} -- flat labels shaped like p
    assert.is_true(close(L.mse(p, y):item(), (0.04 + 0.01 + 0.16) / 3))
    assert.is_true(close(L.mae(p, y):item(), (0.2 + 0.1 + 0.4) / 3))
    local want = -(math.log(0.8) + math.log(0.9) + math.log(0.6)) / 3
    assert.is_true(close(L.binary_crossentropy(p, y):item(), want))
    local z = dagl.tensor{{-1.5}, {30}, {0.3}}
    local wl = -(math.log(1 - sigmoid(-1.5)) + math.log(sigmoid(30)) + math.log(sigmoid(0.3))) / 3
    assert.is_true(close(L.BinaryCrossentropy{from_logits = true}(z, y):item(), wl))
    -- probabilities of exactly 0 and 1 are clipped (finite loss, as Keras)
    local hard = L.binary_crossentropy(dagl.tensor{0, 1}, dagl.tensor{1, 0}):item()
    assert.is_true(close(hard, -math.log(1e-7), 1e-2)) -- float32: 1 - 1e-7 rounds to 1 - 1.19e-7
  end)

  it("computes categorical cross-entropy from probabilities (renormalized) and from logits", function()
    local probs = dagl.tensor{{0.2, 0.6, 0.2}, {1, 1, 2}} -- second row sums to 4
    local onehot = nn.one_hot({1, 2}, 3)
    local want = -(math.log(0.6) + math.log(0.5)) / 2
    assert.is_true(close(L.categorical_crossentropy(probs, onehot):item(), want))
    assert.is_true(close(L.sparse_categorical_crossentropy(probs, onehot):item(), want))
    local logits = dagl.tensor{{1, 2, 3}, {0, 0, 5}}
    local lse1, lse2 = math.log(math.exp(1) + math.exp(2) + math.exp(3)), math.log(2 + math.exp(5))
    local wl = ((lse1 - 2) + (lse2 - 5)) / 2
    assert.is_true(close(L.CategoricalCrossentropy{from_logits = true}(logits, onehot):item(), wl))
    assert.is_true(close(L.SparseCategoricalCrossentropy{from_logits = true}(logits, onehot):item(), wl))
    assert.equal("sparse", L.get("sparse_categorical_crossentropy").kind)
    local ok, err = pcall(L.get, "hinge-ish")
    assert.is_false(ok)
    assert.matches("^unknown loss 'hinge%-ish' %(did you mean 'hinge'%? losses: binary_crossentropy, ", err)
    local custom = L.get(function(p, t) return (p - t):sum() end)
    assert.equal(2, custom(dagl.tensor{3}, dagl.tensor{1}):item())
  end)

  it("has the gradient of binary cross-entropy from logits (sigmoid(z) - y) / n", function()
    local z, y = dagl.tensor({-2, 0.5, 3}, "float64"), dagl.tensor({1, 0, 1}, "float64")
    local bce = L.BinaryCrossentropy{from_logits = true}
    local _, g = dagl.grad(function(zz) return bce(zz, y) end)(z)
    for i, zi in ipairs(z:totable()) do
      assert.is_true(close(g[i], (sigmoid(zi) - y[i]) / 3, 1e-9))
    end
  end)
end)

describe("SGD", function()
  -- Keras: v = m * v - lr * g; w += v (nesterov: w += m * v - lr * g)
  it("follows Keras's momentum and nesterov formulas step by step", function()
    for _, nesterov in ipairs {false, true} do
      local w = dagl.tensor{1.0, -2.0}
      local opt = nn.SGD{lr = 0.1, momentum = 0.9, nesterov = nesterov}
      local hw, hv = {1.0, -2.0}, {0, 0}
      for step = 1, 4 do
        local g = {hw[1] * 2 + step, hw[2] - 1} -- any gradients
        opt.apply({w}, {dagl.tensor(g)})
        for j = 1, 2 do
          hv[j] = 0.9 * hv[j] - 0.1 * g[j]
          hw[j] = hw[j] + (nesterov and (0.9 * hv[j] - 0.1 * g[j]) or hv[j])
        end
        assert_close(w, hw, 1e-6)
      end
    end
  end)
end)

describe("fit, evaluate and predict on bad input", function()
  local function model()
    local m = nn.Sequential{nn.Dense(2)}
    m:compile{optimizer = nn.SGD{}, loss = "mse"}
    return m
  end
  local x, y = dagl.randn(6, 3), dagl.randn(6, 2)

  it("name unknown options and bad values", function()
    local m = model()
    assert.has_error(function() m:fit(x, y, {epoch = 2}) end,
      "fit: unknown option 'epoch' (did you mean 'epochs'? options: batch_size, callbacks, class_weight, distributed, epochs, " ..
      "initial_epoch, sample_weight, shuffle, steps_per_epoch, validation_batch_size, validation_data, validation_freq, " ..
      "validation_split, validation_steps, verbose)")
    assert.has_error(function() m:fit(x, y, {epochs = "3"}) end, "fit: epochs must be a non-negative integer, got '3'")
    assert.has_error(function() m:fit(x, y, {batch_size = 0}) end, "fit: batch_size must be a positive integer, got 0")
    assert.has_error(function() m:fit(x, y, {validation_split = 1}) end,
      "fit: validation_split must be a number in [0, 1), got 1")
    assert.has_error(function() m:fit(x, y, {verbose = 3}) end, "fit: verbose must be true or false or one of 0, 1, 2, 'auto', got 3")
    assert.has_error(function() m:fit(x, y, {initial_epoch = -1}) end,
      "fit: initial_epoch must be a non-negative integer, got -1")
  end)

  it("name data that is not tensors and targets of the wrong shape", function()
    local m = model()
    assert.has_error(function() m:fit({1, 2}, y) end, "fit: x must be a tensor or a list of tensors, got a table of numbers")
    assert.has_error(function() m:fit(x, "y") end,
      "fit: y must be a tensor or a list of tensors (or a Lua list of labels), got a string")
    assert.has_error(function() m:predict({}) end, "predict: x must be a tensor or a list of tensors, got an empty table")
    assert.has_error(function() m:evaluate(x, {}) end,
      "evaluate: y must be a tensor or a list of tensors (or a Lua list of labels), got an empty table")
    assert.has_error(function() m:fit(x, dagl.randn(6, 5), {verbose = 0}) end,
      "loss mse: predictions of shape [6, 2] do not match targets of shape [6, 5]")
  end)

  it("prints nothing with verbose = 0 and one line per epoch with verbose = 2", function()
    local m = model()
    local lines = {}
    local saved = _G.print
    _G.print = function(...) lines[#lines + 1] = table.concat({...}, "\t") end
    local ok, err = pcall(function()
      m:fit(x, y, {epochs = 2, verbose = 0})
      assert.equal(0, #lines)
      m:fit(x, y, {epochs = 2, verbose = 2})
    end)
    _G.print = saved
    assert(ok, err)
    assert.equal(2, #lines)
    assert.matches("^Epoch 2/2 1/1 ", lines[2])
  end)
end)

describe("train_on_batch", function()
  it("takes the same step as fit on one batch and returns the loss and metrics", function()
    local function model()
      dagl.manual_seed(3)
      local m = nn.Sequential{nn.Dense(4, {activation = "relu"}), nn.Dense(3)}
      m:compile{optimizer = nn.Adam{lr = 0.01}, metrics = {"accuracy"},
                loss = nn.losses.SparseCategoricalCrossentropy{from_logits = true}}
      m:build{8, 5} -- the weights are drawn now, from the same seed
      return m
    end
    local x, y = dagl.randn(8, 5), {0, 1, 2, 0, 1, 2, 0, 1}
    local a, b = model(), model()
    local loss, acc = a:train_on_batch(x, y)
    local h = b:fit(x, y, {epochs = 1, batch_size = 8, shuffle = false, verbose = 0})
    assert.equal(h.loss[1], loss)
    assert.equal(h.accuracy[1], acc)
    for i, w in ipairs(a:weights()) do assert.equal(0, (w - b:weights()[i]):abs():max():item()) end
    local later = a:train_on_batch(x, y)
    assert.is_true(later < loss)
    assert.has_error(function() a:train_on_batch(x, {0, 1}) end, "train_on_batch: x has 8 rows but y has 2")
    assert.has_error(function() nn.Sequential{nn.Dense(1)}:train_on_batch(x, y) end,
      "train_on_batch: call model:compile{...} first")
  end)
end)
