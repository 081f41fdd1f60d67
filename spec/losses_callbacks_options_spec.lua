-- losses_callbacks_options_spec.lua -- the options of losses, metrics and callbacks (issue 13):
-- every option checked when the object is made (a misspelling names the nearest option), Keras's
-- names and positional forms, loss reductions and label smoothing against the formulas written
-- out here, and the callbacks (EarlyStopping with restore_best_weights, mode, baseline;
-- ModelCheckpoint; CSVLogger) in real fits on tiny data.
local dagl = require "dagl"
local nn = dagl.nn
local L, M, C = nn.losses, nn.metrics, nn.callbacks

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-5) * (1 + math.abs(b)) end

-- The error message of f(), which must fail.
local function err_of(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(err)
end

local function sigmoid(z) return 1 / (1 + math.exp(-z)) end
local function log_softmax_row(z)
  local m = math.max(table.unpack(z))
  local s = 0
  for _, v in ipairs(z) do s = s + math.exp(v - m) end
  local out = {}
  for i, v in ipairs(z) do out[i] = v - m - math.log(s) end
  return out
end
local function mean(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s / #t
end
local function sum(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s
end

-- Keras's categorical cross-entropy of one row of logits against a (smoothed) one-hot row.
local function cce_row(z, label, ls)
  local lp, out = log_softmax_row(z), 0
  for k = 1, #z do
    local y = (k == label + 1 and 1 or 0) * (1 - ls) + ls / #z
    out = out - y * lp[k]
  end
  return out
end

local LOGITS = {{1, 2, 3}, {0, 0, 5}, {2, -1, 0.5}}
local LABELS = {1, 2, 0}

describe("ignore_class", function()
  it("leaves the rows of that label out of the loss and out of the mean, 2-d labels too", function()
    local l = L.SparseCategoricalCrossentropy{ignore_class = 0}
    local p = dagl.tensor{{0.7, 0.2, 0.1}, {0.1, 0.8, 0.1}, {0.2, 0.2, 0.6}}
    local want = -(math.log(0.8) + math.log(0.6)) / 2
    assert.near(want, l(p, dagl.tensor({0, 1, 2}, "int64")):item(), 1e-6)
    assert.near(want, l(p:reshape(1, 3, 3), dagl.tensor({{0, 1, 2}}, "int64")):item(), 1e-6)
    local none = L.SparseCategoricalCrossentropy{ignore_class = 0, reduction = "none"}(p, dagl.tensor({0, 1, 2}, "int64"))
    assert.equal(0, none[1])
    assert.matches("ignore_class = 5 is not a class of predictions with 3 classes",
      err_of(function() return L.SparseCategoricalCrossentropy{ignore_class = 5}(p, dagl.tensor({0, 1, 2}, "int64")) end))
  end)
end)

describe("one_hot", function()
  it("takes labels of any shape (sequence labels (batch, steps) give (batch, steps, classes))", function()
    local oh = dagl.nn.one_hot(dagl.tensor({{0, 2}, {1, 1}}, "int64"), 3)
    assert.same({2, 2, 3}, oh.shape)
    assert.same({{{1, 0, 0}, {0, 0, 1}}, {{0, 1, 0}, {0, 1, 0}}}, oh:totable())
    assert.same({2, 3}, dagl.nn.one_hot(dagl.tensor({{2}, {0}}, "int64"), 3).shape) -- (n, 1) as Keras
    assert.same({{0, 1}, {1, 0}}, dagl.nn.one_hot(dagl.tensor({1, 0}, "uint8"), 2):totable())
    assert.matches("one_hot: label 3 at 2 is not in 0..2", err_of(dagl.nn.one_hot, {0, 3}, 3))
    assert.matches("one_hot: the labels must be integers", err_of(dagl.nn.one_hot, dagl.tensor{0.5}, 3))
  end)
end)

describe("loss options", function()
  it("raises on a misspelled option, naming the nearest (from_logit)", function()
    assert.equal("CategoricalCrossentropy: unknown option 'from_logit' (did you mean 'from_logits'? options: "
      .. "axis, dtype, from_logits, label_smoothing, name, reduction)",
      err_of(L.CategoricalCrossentropy, {from_logit = true}):gsub("^[^:]*:%d+: ", ""))
    assert.matches("MeanSquaredError: unknown option 'from_logits'", err_of(L.MeanSquaredError, {from_logits = true}))
    assert.matches("BinaryCrossentropy: label_smoothing must be a number in %[0, 1%], got 1.5",
      err_of(L.BinaryCrossentropy, {label_smoothing = 1.5}))
    assert.matches("Huber: delta must be a number > 0, got 0", err_of(L.Huber, {delta = 0}))
    assert.matches("CategoricalCrossentropy: axis = 1 is not supported: the classes are the last dim",
      err_of(L.CategoricalCrossentropy, {axis = 1}))
    assert.matches("SparseCategoricalCrossentropy: ignore_class must be an integer",
      err_of(L.SparseCategoricalCrossentropy, {ignore_class = 0.5}))
    assert.matches("reduction must be one of 'sum_over_batch_size', 'sum', 'none', 'mean', 'mean_with_sample_weight' "
      .. "%(or false, Keras's None%), got 'meen' %(did you mean 'mean'%?%)", err_of(L.MeanSquaredError, {reduction = "meen"}))
    -- the raise points at the caller's line
    assert.matches("losses_callbacks_options_spec.lua:%d+: MeanAbsoluteError",
      err_of(function() local l = L.MeanAbsoluteError{reductio = "sum"} return l end))
  end)

  it("gives categorical cross-entropy from logits (the issue's case), and Keras's positional forms", function()
    local want = 0
    for i, z in ipairs(LOGITS) do want = want + cce_row(z, LABELS[i], 0) end
    want = want / 3
    local logits, onehot = dagl.tensor(LOGITS), nn.one_hot(LABELS, 3)
    assert.is_true(close(L.CategoricalCrossentropy{from_logits = true}(logits, onehot):item(), want))
    assert.is_true(close(L.CategoricalCrossentropy(true)(logits, onehot):item(), want)) -- (from_logits)
    assert.equal("sum", L.MeanSquaredError("sum").reduction)
    assert.equal(0.5, L.Huber(0.5).delta)
    assert.equal("custom_name", L.BinaryCrossentropy(false, 0, -1, "sum", "custom_name").name)
  end)

  it("reduces per-sample values (one per row) by sum_over_batch_size, mean, sum and none", function()
    local p = dagl.tensor{{0.1, 0.4}, {0.8, 0.3}, {0.5, 0.9}}
    local y = dagl.tensor{{0, 1}, {1, 0}, {1, 1}}
    local pt, yt = p:totable(), y:totable()
    local rows = {mse = {}, mae = {}, bce = {}}
    for i = 1, 3 do
      local se, ae, ce = 0, 0, 0
      for k = 1, 2 do
        local a, b = pt[i][k], yt[i][k]
        se, ae = se + (a - b) ^ 2, ae + math.abs(a - b)
        ce = ce - (b * math.log(a) + (1 - b) * math.log(1 - a))
      end
      rows.mse[i], rows.mae[i], rows.bce[i] = se / 2, ae / 2, ce / 2
    end
    for name, class in pairs {mse = "MeanSquaredError", mae = "MeanAbsoluteError", bce = "BinaryCrossentropy"} do
      local none = L[class]{reduction = "none"}(p, y)
      assert.same({3}, none.shape)
      for i = 1, 3 do assert.is_true(close(none[i], rows[name][i]), name .. " row " .. i) end
      assert.is_true(close(L[class]{reduction = false}(p, y)[2], rows[name][2])) -- Keras's None
      assert.is_true(close(L[class]{reduction = "sum"}(p, y):item(), sum(rows[name])), name)
      assert.is_true(close(L[class]{reduction = "sum_over_batch_size"}(p, y):item(), mean(rows[name])), name)
      assert.is_true(close(L[class]{reduction = "mean"}(p, y):item(), mean(rows[name])), name) -- PyTorch's
      assert.is_true(close(L[class]()(p, y):item(), mean(rows[name])), name)
    end
    -- the cross-entropies: one value per row (a sum over the classes)
    local logits, onehot = dagl.tensor(LOGITS), nn.one_hot(LABELS, 3)
    local per = L.CategoricalCrossentropy{from_logits = true, reduction = "none"}(logits, onehot)
    local sparse = L.SparseCategoricalCrossentropy{from_logits = true, reduction = "sum"}(logits, LABELS)
    local total = 0
    for i, z in ipairs(LOGITS) do
      assert.is_true(close(per[i], cce_row(z, LABELS[i], 0)))
      total = total + cce_row(z, LABELS[i], 0)
    end
    assert.is_true(close(sparse:item(), total))
    -- 3-d predictions: one value per (sample, step)
    assert.same({2, 3}, L.MeanSquaredError{reduction = "none"}(dagl.ones(2, 3, 4), dagl.zeros(2, 3, 4)).shape)
  end)

  it("smooths labels as Keras does (classes: y(1-ls) + ls/n; binary: y(1-ls) + ls/2)", function()
    local ls = 0.2
    local logits, onehot = dagl.tensor(LOGITS), nn.one_hot(LABELS, 3)
    local want = 0
    for i, z in ipairs(LOGITS) do want = want + cce_row(z, LABELS[i], ls) end
    want = want / 3
    assert.is_true(close(L.CategoricalCrossentropy{from_logits = true, label_smoothing = ls}(logits, onehot):item(), want))
    assert.is_true(close(L.SparseCategoricalCrossentropy{from_logits = true, label_smoothing = ls}(logits, LABELS):item(),
      want))
    -- probabilities: the softmax of the same logits gives the same loss
    local probs = logits:softmax(-1)
    assert.is_true(close(L.CategoricalCrossentropy{label_smoothing = ls}(probs, onehot):item(), want, 1e-4))
    -- binary, from logits and from probabilities
    local z, yb = {-1.5, 2, 0.3, 4}, {0, 1, 1, 0}
    local wb = 0
    for i = 1, 4 do
      local t = yb[i] * (1 - ls) + 0.5 * ls
      local p = sigmoid(z[i])
      wb = wb - (t * math.log(p) + (1 - t) * math.log(1 - p))
    end
    wb = wb / 4
    local zt, yt = dagl.tensor(z):view(4, 1), dagl.tensor(yb)
    assert.is_true(close(L.BinaryCrossentropy{from_logits = true, label_smoothing = ls}(zt, yt):item(), wb))
    assert.is_true(close(L.BinaryCrossentropy{label_smoothing = ls}(zt:sigmoid(), yt):item(), wb, 1e-4))
  end)

  it("computes Huber, MeanSquaredLogarithmicError, KLDivergence and Hinge by Keras's formulas", function()
    local p, y = {{0.2, 3.0}, {-1.0, 0.5}}, {{0.0, 0.0}, {1.0, 0.4}}
    local pt, yt = dagl.tensor(p), dagl.tensor(y)
    local huber, msle = {}, {}
    for i = 1, 2 do
      local h, s = 0, 0
      for k = 1, 2 do
        local e = p[i][k] - y[i][k]
        h = h + (math.abs(e) <= 1 and 0.5 * e * e or math.abs(e) - 0.5)
        local a, b = math.log(math.max(p[i][k], 1e-7) + 1), math.log(math.max(y[i][k], 1e-7) + 1)
        s = s + (a - b) ^ 2
      end
      huber[i], msle[i] = h / 2, s / 2
    end
    assert.is_true(close(L.Huber()(pt, yt):item(), mean(huber)))
    assert.is_true(close(L.huber(pt, yt):item(), mean(huber)))
    assert.is_true(close(L.MeanSquaredLogarithmicError()(pt, yt):item(), mean(msle)))
    local q, r = {{0.3, 0.7}, {0.9, 0.1}}, {{0.5, 0.5}, {1.0, 0.0}}
    local kl = {}
    for i = 1, 2 do
      kl[i] = 0
      for k = 1, 2 do
        local a, b = math.max(r[i][k], 1e-7), math.max(q[i][k], 1e-7)
        kl[i] = kl[i] + a * math.log(a / b)
      end
    end
    assert.is_true(close(L.KLDivergence()(dagl.tensor(q), dagl.tensor(r)):item(), mean(kl)))
    -- hinge: 0/1 targets become -1/1
    local hp, hy = {{0.3, -2}, {0.8, 0.1}}, {{1, 0}, {0, 1}}
    local hinge = 0
    for i = 1, 2 do
      for k = 1, 2 do hinge = hinge + math.max(1 - (2 * hy[i][k] - 1) * hp[i][k], 0) end
    end
    assert.is_true(close(L.Hinge()(dagl.tensor(hp), dagl.tensor(hy)):item(), hinge / 4))
    assert.is_true(close(L.hinge(dagl.tensor(hp), dagl.tensor(hy) * 2 - 1):item(), hinge / 4)) -- -1/1 as given
  end)

  it("gives fit a scalar with reduction none (the mean, as Keras's compile), with its gradient", function()
    local lossf = L.MeanSquaredError{reduction = "none"}
    local x = dagl.tensor({{1, 2}, {3, 4}, {5, 6}}, "float64")
    local y = dagl.tensor({{0, 0}, {1, 1}, {2, 0}}, "float64")
    local want = lossf(x, y):mean():item()
    assert.equal(want, lossf:training_value(x, y):item())
    assert.equal(L.MeanSquaredError{reduction = "sum"}(x, y):item(),
      L.MeanSquaredError{reduction = "sum"}:training_value(x, y):item())
    local _, g = dagl.grad(function(p) return lossf:training_value(p, y) end)(x)
    local gt, xt, yt = g:totable(), x:totable(), y:totable()
    for i = 1, 3 do
      for k = 1, 2 do assert.is_true(close(gt[i][k], 2 * (xt[i][k] - yt[i][k]) / 6, 1e-12)) end
    end
  end)

  -- needs training.lua's loss_and_metrics to call self.loss:training_value(p, y) (not self.loss(p, y))
  it("trains in fit with reduction none (the model averages the per-sample values)", function()
    dagl.manual_seed(5)
    local x = dagl.randn(32, 3)
    local y = x:matmul(dagl.tensor{{1}, {-2}, {0.5}})
    local function run(loss)
      dagl.manual_seed(7)
      local m = nn.Sequential{nn.Dense(1)}
      m:compile{loss = loss, optimizer = nn.SGD{lr = 0.1}}
      return m:fit(x, y, {epochs = 5, batch_size = 8, shuffle = false, verbose = 0})
    end
    local none, default = run(L.MeanSquaredError{reduction = "none"}), run("mse")
    for e = 1, 5 do assert.is_true(close(none.loss[e], default.loss[e], 1e-5)) end
    assert.is_true(none.loss[5] < none.loss[1])
  end)

  it("keeps Keras's function-style names and takes names, classes and configs in get", function()
    local p, y = dagl.tensor{{0.2}, {0.9}}, dagl.tensor{0, 1}
    for _, name in ipairs {"mse", "mean_squared_error", "MeanSquaredError", "MSE"} do
      assert.is_true(close(L.get(name)(p, y):item(), (0.04 + 0.01) / 2), name)
    end
    for _, name in ipairs {"mae", "mean_absolute_error", "MeanAbsoluteError", "MAE"} do
      assert.is_true(close(L.get(name)(p, y):item(), (0.2 + 0.1) / 2), name)
    end
    assert.equal(L.binary_crossentropy, L.get("bce"))
    assert.equal(L.kl_divergence, L.get("kld"))
    assert.equal("categorical", L.get("categorical_crossentropy").kind)
    assert.equal("sparse", L.get("SparseCategoricalCrossentropy").kind)
    assert.equal("huber_loss", L.get(L.Huber).name) -- a class: made with its defaults
    local cfg = L.CategoricalCrossentropy{from_logits = true, label_smoothing = 0.1}:get_config()
    assert.same({class_name = "CategoricalCrossentropy", config = {from_logits = true, label_smoothing = 0.1}}, cfg)
    local again = L.get(cfg)
    assert.is_true(again.from_logits)
    assert.equal(0.1, again.label_smoothing)
    local msg = err_of(L.get, "sparse_categorical_crossentropyy")
    assert.matches("^unknown loss 'sparse_categorical_crossentropyy' %(did you mean 'sparse_categorical_crossentropy'%? "
      .. "losses: binary_crossentropy, categorical_crossentropy, hinge, huber, kl_divergence, mae, ", msg)
    assert.matches("; or a class name: BinaryCrossentropy, CategoricalCrossentropy, ", msg)
    assert.matches("did you mean 'CategoricalCrossentropy'", err_of(L.get, "CategoricalCrossEntropy"))
    assert.matches("unknown loss 'Hubr'", err_of(L.get, {class_name = "Hubr"}))
    assert.matches("a loss must be a name, a loss object", err_of(L.get, 3))
    -- compile names the problem
    local m = nn.Sequential{nn.Dense(1)}
    assert.matches("^compile: unknown loss 'msee' %(did you mean 'mse'%?",
      err_of(function() m:compile{loss = "msee"} end):gsub("^[^:]*:%d+: ", ""))
  end)

  it("makes integer labels one-hot rows when a sparse loss is called directly (Keras's scce(labels, probs))", function()
    local probs = dagl.tensor{{0.05, 0.95, 0}, {0.1, 0.8, 0.1}}
    local want = -(math.log(0.95) + math.log(0.1)) / 2 -- Keras's example: 1.177
    assert.is_true(close(L.sparse_categorical_crossentropy(probs, {1, 2}):item(), want))
    assert.is_true(close(L.sparse_categorical_crossentropy(probs, dagl.tensor({1, 2}, "int64")):item(), want))
    assert.is_true(close(want, 1.177, 1e-3))
  end)
end)

describe("metric options", function()
  it("takes Keras's names, and raises on others naming the nearest", function()
    local p, y = dagl.tensor{{0.2}, {0.9}, {0.6}}, dagl.tensor{0, 1, 0}
    local bce = L.BinaryCrossentropy()
    for _, name in ipairs {"accuracy", "acc", "binary_accuracy"} do
      assert.is_true(close(M.get(name, bce, 1)(p, y):item(), 2 / 3), name)
    end
    assert.is_true(close(M.get("mean_squared_error", bce, 1)(p, y):item(), (0.04 + 0.01 + 0.36) / 3))
    assert.is_true(close(M.get("mean_absolute_error", bce, 1)(p, y):item(), (0.2 + 0.1 + 0.6) / 3))
    local msg = err_of(M.get, "acuracy", bce, 1)
    assert.matches("^unknown metric 'acuracy' %(did you mean 'accuracy'%? metrics: acc, accuracy, binary_accuracy, ", msg)
    assert.matches("a metric must be a name or a function, got 3", err_of(M.get, 3, bce, 1))
  end)

  it("computes top-k categorical accuracy (ties at the k-th score count as in)", function()
    local p = dagl.tensor{{0.1, 0.5, 0.4}, {0.3, 0.3, 0.4}, {0.6, 0.3, 0.1}, {0.2, 0.2, 0.6}}
    local y = nn.one_hot({2, 0, 2, 1}, 3)
    -- top-2: row 1 yes (0.4 second), row 2 yes (0.3 ties second), row 3 no, row 4 yes (0.2 ties)
    assert.is_true(close(M.top_k_categorical_accuracy(p, y, 2):item(), 3 / 4))
    assert.is_true(close(M.top_k_categorical_accuracy(p, y, 1):item(), 0))
    assert.is_true(close(M.get("top_k_categorical_accuracy", L.mse, 3)(p, y):item(), 1)) -- k = 5 >= classes
    assert.matches("metric sparse_top_k_categorical_accuracy needs a sparse loss",
      err_of(M.get, "sparse_top_k_categorical_accuracy", L.mse, 3))
  end)

  it("normalizes compile's metrics argument with nn.metrics.list", function()
    local f = function(p) return p:mean() end
    assert.same({}, M.list(nil))
    assert.same({"mae"}, M.list("mae"))
    assert.same({f}, M.list(f))
    local given = {"accuracy", f}
    local got = M.list(given)
    assert.same(given, got)
    assert.are_not.equal(given, got) -- a copy
    assert.matches("compile: unknown metric 'maee' %(did you mean 'mae'%?", err_of(M.list, "maee"))
    assert.matches("compile: unknown metric 'acurracy' %(did you mean 'accuracy'%?", err_of(M.list, {"mae", "acurracy"}))
    assert.matches("compile: metrics%[2%] must be a metric name or a function%(pred, target%), got 5",
      err_of(M.list, {"mae", 5}))
    assert.matches("compile: metrics must be a list %(metrics by output name are not supported%), got the key 'out'",
      err_of(M.list, {out = "mae"}))
    -- raised at the line calling the function that calls list (compile's caller)
    local function compile_like(metrics)
      local l = M.list(metrics)
      return l
    end
    assert.matches("losses_callbacks_options_spec.lua:%d+: compile: unknown metric",
      err_of(function() local l = compile_like("nope") return l end))
  end)
end)

-- A one-weight model y = w x (w = 0) trained towards w = 2 while validation wants w = 1: the
-- validation loss falls for 3 epochs (w = 0.4, 0.72, 0.976), then rises (1.18, 1.34, ...).
local function drifting()
  local m = nn.Sequential{nn.Dense(1, {use_bias = false, kernel_initializer = "zeros"})}
  m:compile{loss = "mse", optimizer = nn.SGD{lr = 0.1}, metrics = {"mae"}}
  local x = dagl.ones(8, 1)
  return m, x, x * 2, x
end
local function fit_opts(cbs, epochs)
  local m, x, y, vy = drifting()
  return m, x, y, {epochs = epochs or 8, batch_size = 8, shuffle = false, verbose = 0,
                   validation_data = {x, vy}, callbacks = cbs}
end
local function w_of(m) return m:get_weights()[1]:item() end

describe("EarlyStopping", function()
  it("checks its options (patient -> patience) and takes Keras's defaults", function()
    assert.matches("early_stopping: unknown option 'patient' %(did you mean 'patience'%? options: baseline, min_delta, ",
      err_of(C.early_stopping, {patient = 1}))
    assert.matches("EarlyStopping: unknown option 'restore_best_weight' %(did you mean 'restore_best_weights'%?",
      err_of(C.EarlyStopping, {restore_best_weight = true}))
    assert.matches("EarlyStopping: mode must be one of 'auto', 'min', 'max', got 'minimum'",
      err_of(C.EarlyStopping, {mode = "minimum"}))
    assert.matches("EarlyStopping: patience must be a non%-negative integer, got %-1", err_of(C.EarlyStopping, {patience = -1}))
    assert.matches("EarlyStopping: mode = 'auto' cannot tell whether 'score' should go down or up",
      err_of(C.EarlyStopping, {monitor = "score"}))
    local es = C.EarlyStopping()
    assert.equal(0, es.patience)
    assert.equal("val_loss", es.monitor)
    assert.equal(3, C.early_stopping().patience) -- dagl's older default
    assert.equal("val_accuracy", C.EarlyStopping("val_accuracy").monitor) -- Keras's positional order
    assert.equal("max", C.EarlyStopping{monitor = "val_accuracy"}.direction)
  end)

  -- Feeds values as epochs 1, 2, ... and returns the epoch at which it stopped (nil: never).
  local function stop_at(cb, values, key)
    cb:on_train_begin()
    for e, v in ipairs(values) do
      if cb(e, {[key or "val_loss"] = v}) == false then return e end
    end
    return nil
  end

  it("follows Keras's rules for patience, min_delta, mode, baseline and start_from_epoch", function()
    local falling_then_flat = {5, 4, 3, 3.5, 3.2, 3.1, 3.05}
    assert.equal(4, stop_at(C.EarlyStopping(), falling_then_flat)) -- patience 0: the first epoch not better
    assert.equal(6, stop_at(C.EarlyStopping{patience = 3}, falling_then_flat))
    assert.equal(2, stop_at(C.EarlyStopping{patience = 1, min_delta = 1.5}, falling_then_flat)) -- 5 -> 4 is < 1.5
    assert.equal(4, stop_at(C.EarlyStopping{patience = 1, min_delta = 0.9}, falling_then_flat))
    assert.equal(2, stop_at(C.EarlyStopping{mode = "max"}, falling_then_flat)) -- higher is better: 4 < 5 stops
    assert.equal(3, stop_at(C.EarlyStopping{monitor = "val_accuracy"}, {0.5, 0.7, 0.6}, "val_accuracy"))
    assert.equal(nil, stop_at(C.EarlyStopping{monitor = "score", mode = "min", patience = 10}, {3, 2, 1}, "score"))
    -- baseline: improving epochs that do not beat it keep the wait running
    assert.equal(3, stop_at(C.EarlyStopping{patience = 2, baseline = 1}, {5, 4, 4.5, 4.6}))
    assert.equal(4, stop_at(C.EarlyStopping{patience = 2}, {5, 4, 4.5, 4.6}))
    -- start_from_epoch: the first epochs are not watched (not even their best)
    assert.equal(5, stop_at(C.EarlyStopping{start_from_epoch = 2, patience = 1}, {1, 1, 5, 4, 4.5}))
    assert.equal(2, stop_at(C.EarlyStopping{patience = 1}, {1, 1, 5, 4, 4.5}))
    assert.matches("EarlyStopping: no 'val_loss' in the logs %(they hold: loss; is there validation data%?%)",
      err_of(C.EarlyStopping(), 1, {loss = 1}))
  end)

  it("restores the best epoch's weights in fit (stopped early or not, as Keras 3)", function()
    local seen = {}
    local recorder = {on_epoch_end = function(self, epoch, logs) seen[epoch] = {w_of(self.model), logs.val_loss} end}
    local es = C.EarlyStopping{patience = 2, restore_best_weights = true}
    local m, x, y, opts = fit_opts({recorder, es})
    local h = m:fit(x, y, opts)
    assert.equal(5, h.stopped_epoch) -- best at 3, then 2 epochs without improvement
    assert.is_true(close(seen[3][1], 0.976, 1e-5))
    assert.equal(seen[3][1], w_of(m)) -- restored exactly
    assert.are_not.equal(seen[5][1], w_of(m))
    assert.equal(3, es.best_epoch)
    -- not stopped (patience larger than the run): the weights of the best epoch still come back
    local es2 = C.EarlyStopping{patience = 10, restore_best_weights = true}
    local m2, x2, y2, opts2 = fit_opts({es2}, 5)
    local h2 = m2:fit(x2, y2, opts2)
    assert.equal(5, #h2.loss)
    assert.is_nil(h2.stopped_epoch)
    assert.equal(seen[3][1], w_of(m2))
    -- without restore_best_weights the last epoch's weights stay
    local m3, x3, y3, opts3 = fit_opts({C.EarlyStopping{patience = 2}})
    m3:fit(x3, y3, opts3)
    assert.equal(seen[5][1], w_of(m3))
  end)

  it("works as fit's one callback (not in a list) and says what it does with verbose = 1", function()
    local lines = {}
    local saved = _G.print
    _G.print = function(...) lines[#lines + 1] = table.concat({...}, "\t") end
    local ok, err = pcall(function()
      local m, x, y, opts = fit_opts(C.EarlyStopping{patience = 2, restore_best_weights = true, verbose = 1})
      local h = m:fit(x, y, opts)
      assert.equal(5, #h.loss)
    end)
    _G.print = saved
    assert(ok, err)
    assert.same({"Epoch 5: early stopping", "Restoring model weights from the end of the best epoch: 3."}, lines)
  end)
end)

describe("callbacks.list", function()
  it("takes one callback or a list, and raises clearly on anything else", function()
    local f = function() end
    local es = C.EarlyStopping()
    local hooks = {on_epoch_begin = function() end}
    assert.same({}, C.list(nil))
    assert.same({f}, C.list(f))
    assert.equal(es, C.list(es)[1])
    assert.equal(hooks, C.list(hooks)[1])
    local l = C.list({f, es})
    assert.equal(2, #l)
    assert.equal(es, l[2])
    assert.matches("fit: callbacks must be a callback %(a function, or a table with on_train_begin/", err_of(C.list, 3))
    assert.matches("got a table with the key 'patience' and no hooks", err_of(C.list, {patience = 2}))
    assert.matches("fit: callback 2 is 'x', not a function or a table of hooks", err_of(C.list, {f, "x"}))
    assert.matches("fit: callback 1 is a table without hooks", err_of(C.list, {{name = "x"}}))
    local m, x, y = drifting()
    assert.matches("losses_callbacks_options_spec.lua:%d+: fit: callback 1 is 4",
      err_of(function() m:fit(x, y, {verbose = 0, callbacks = {4}}) end))
  end)
end)

describe("CSVLogger", function()
  it("writes every key of the logs, with append and separator, as Keras does", function()
    local path = os.tmpname()
    local m, x, y, opts = fit_opts(C.CSVLogger(path), 3)
    local h = m:fit(x, y, opts)
    local lines = {}
    for line in io.lines(path) do lines[#lines + 1] = line end
    assert.equal("epoch,loss,mae,val_loss,val_mae", lines[1])
    assert.equal(4, #lines)
    for e = 1, 3 do
      local cells = {}
      for c in lines[e + 1]:gmatch("[^,]+") do cells[#cells + 1] = c end
      assert.equal(tostring(e), cells[1])
      -- numbers written in the fewest digits that read back exactly
      for i, k in ipairs {"loss", "mae", "val_loss", "val_mae"} do assert.equal(h[k][e], tonumber(cells[i + 1])) end
    end
    -- append: the next fit adds rows, no second header; without append the file starts again
    opts.callbacks = C.CSVLogger(path, ";", true) -- Keras's positional (filename, separator, append)
    opts.epochs = 2
    m:fit(x, y, opts)
    local text = read_file(path)
    local n = 0
    for _ in text:gmatch("\n") do n = n + 1 end
    assert.equal(6, n)
    assert.matches("\n1;[%d.e-]+;[%d.e-]+;[%d.e-]+;[%d.e-]+\n2;", text)
    opts.callbacks = {C.csv_logger{path = path}} -- dagl's older name, path = as filename
    m:fit(x, y, opts)
    local again = {}
    for line in io.lines(path) do again[#again + 1] = line end
    assert.equal(3, #again)
    assert.equal("epoch,loss,mae,val_loss,val_mae", again[1])
    -- append to a file that does not exist yet starts it with the header
    os.remove(path)
    opts.callbacks = {C.CSVLogger{filename = path, append = true}}
    m:fit(x, y, opts)
    local fresh = {}
    for line in io.lines(path) do fresh[#fresh + 1] = line end
    assert.equal("epoch,loss,mae,val_loss,val_mae", fresh[1])
    os.remove(path)
    assert.matches("CSVLogger: filename is required", err_of(C.CSVLogger))
    assert.matches("csv_logger: unknown option 'seperator' %(did you mean 'separator'%?", err_of(C.csv_logger, {path = "x", seperator = ";"}))
  end)
end)

describe("ModelCheckpoint", function()
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)
  local function exists(p)
    local f = io.open(p)
    if f then f:close() end
    return f ~= nil
  end

  it("saves the best epochs only (path = alias of filepath, {epoch:02d}, mode, initial_value_threshold)", function()
    local ck = C.ModelCheckpoint{path = dir .. "/w_{epoch:02d}.safetensors", save_best_only = true,
                                 save_weights_only = true}
    local m, x, y, opts = fit_opts({ck}, 5)
    m:fit(x, y, opts)
    for e = 1, 5 do
      assert.equal(e <= 3, exists(("%s/w_%02d.safetensors"):format(dir, e)), "epoch " .. e)
    end
    -- the file of epoch 3 holds the weights of that epoch (w = 0.976)
    local kernel
    for k, t in pairs(dagl.load_safetensors(dir .. "/w_03.safetensors")) do
      if k:match("kernel$") and not k:match("^optimizer") then kernel = t end
    end
    assert.is_true(close(kernel:view(-1)[1], 0.976, 1e-5))
    -- mode = "max": saves when val_loss rises above its highest (0.36 at epoch 1; 0.44 at epoch 8)
    local up = C.ModelCheckpoint(dir .. "/up_{epoch}.safetensors", "val_loss", 0, true, true, "max")
    local m2, x2, y2, opts2 = fit_opts({up}, 8)
    m2:fit(x2, y2, opts2)
    for e = 1, 8 do assert.equal(e == 1 or e == 8, exists(dir .. "/up_" .. e .. ".safetensors"), "max epoch " .. e) end
    -- initial_value_threshold: only what beats it
    local th = C.model_checkpoint{filepath = dir .. "/th_{epoch}_{val_loss:.4f}.safetensors", save_best_only = true,
                                  initial_value_threshold = 0.01}
    local m3, x3, y3, opts3 = fit_opts({th}, 5)
    local h3 = m3:fit(x3, y3, opts3)
    for e = 1, 5 do
      local p = ("%s/th_%d_%.4f.safetensors"):format(dir, e, h3.val_loss[e])
      assert.equal(e == 3, exists(p), "threshold epoch " .. e)
    end
  end)

  it("checks its options and calls model:save for whole-model checkpoints", function()
    assert.matches("ModelCheckpoint: filepath is required", err_of(C.ModelCheckpoint, {monitor = "loss"}))
    assert.matches("ModelCheckpoint: unknown option 'save_best_onyl' %(did you mean 'save_best_only'%?",
      err_of(C.ModelCheckpoint, "x", {save_best_onyl = true}))
    assert.matches("ModelCheckpoint: save_freq = 10 is not supported", err_of(C.ModelCheckpoint, "x", {save_freq = 10}))
    assert.matches("ModelCheckpoint: include_optimizer = false is for weight checkpoints",
      err_of(C.ModelCheckpoint, "x", {include_optimizer = false}))
    assert.is_true(C.model_checkpoint{path = "x"}.save_weights_only) -- dagl's older default
    assert.is_false(C.ModelCheckpoint("x").save_weights_only) -- Keras's
    -- save_weights_only = false: model:save(path), or a clear error for a model without it
    local ck = C.ModelCheckpoint(dir .. "/m_{epoch}.model")
    local calls = {}
    ck.model = {save = function(self, p) calls[#calls + 1] = p end}
    ck:on_epoch_end(2, {loss = 1})
    assert.same({dir .. "/m_2.model"}, calls)
    ck.model = {save_weights = function() end}
    assert.matches("ModelCheckpoint: save_weights_only = false needs model:save %(", err_of(ck.on_epoch_end, ck, 1, {}))
    local named = C.ModelCheckpoint(dir .. "/{val_acc}")
    assert.matches("ModelCheckpoint: filepath '[^']*' names {val_acc}, which is not in the logs",
      err_of(named.on_epoch_end, named, 1, {}))
  end)
end)
