-- dagl.nn: layers build from the input shape, the summary counts parameters, losses match hand
-- computations, SGD updates weights in place, and fit() learns real data (iris).
local dagl = require "dagl"
local nn = dagl.nn

local function load_iris()
  local f = assert(io.open("examples/data/iris.csv"))
  f:read("l") -- "150,4,setosa,versicolor,virginica"
  local xs, ys = {}, {}
  for line in f:lines() do
    local row = {}
    for v in line:gmatch("[^,]+") do row[#row + 1] = tonumber(v) end
    ys[#ys + 1] = math.tointeger(table.remove(row))
    xs[#xs + 1] = row
  end
  f:close()
  return dagl.tensor(xs), ys
end

describe("dagl.nn", function()
  it("builds Dense layers from the input shape and counts parameters", function()
    dagl.manual_seed(1)
    local model = nn.Sequential{nn.Dense(8, {activation = "relu"}), nn.Flatten(), nn.Dense(3)}
    assert.same({16, 3}, model:build{16, 4})
    local text = model:summary()
    assert.matches("Total params: 67", text) -- 4*8+8 + 8*3+3
    assert.equal(4, #model:weights())
    local y = model(dagl.ones(2, 4))
    assert.same({2, 3}, y.shape)
  end)

  it("computes softmax cross-entropy like the formula", function()
    local logits = dagl.tensor{{1, 2, 3}, {1, 1, 1}}
    local onehot = nn.one_hot({2, 0}, 3)
    local loss = nn.losses.CategoricalCrossentropy{from_logits = true}(logits, onehot):item()
    local want = (-(3 - math.log(math.exp(1) + math.exp(2) + math.exp(3))) - (1 - math.log(3 * math.exp(1)))) / 2
    assert.is_true(math.abs(loss - want) < 1e-6)
    assert.has_error(function() nn.one_hot({3}, 3) end, "one_hot: label 3 at 1 is not in 0..2")
  end)

  it("updates weights in place with SGD and momentum", function()
    local w, g = dagl.ones(2), dagl.tensor{1, -1}
    local opt = nn.SGD{lr = 0.5, momentum = 0.5}
    opt.apply({w}, {g})
    assert.same({0.5, 1.5}, w:totable())
    opt.apply({w}, {g}) -- v = 0.5 * (-0.5) - 0.5 = -0.75
    assert.same({-0.25, 2.25}, w:totable())
  end)

  it("learns iris to at least 90% held-out accuracy", function()
    dagl.manual_seed(3)
    math.randomseed(3)
    local x, y = load_iris()
    -- standardize the four measurements
    x = (x - x:mean(1, true)) / x:var(1, true):sqrt()
    local order, xs, ys = {}, dagl.empty(x.shape), {}
    for i = 1, #y do order[i] = i end
    for i = #order, 2, -1 do local k = math.random(i) order[i], order[k] = order[k], order[i] end
    for i, k in ipairs(order) do xs[i] = x[k] ys[i] = y[k] end
    local model = nn.Sequential{nn.Dense(16, {activation = "tanh"}), nn.Dense(3)}
    model:compile{optimizer = nn.SGD{lr = 0.1, momentum = 0.9},
                  loss = nn.losses.SparseCategoricalCrossentropy{from_logits = true},
                  metrics = {"accuracy"}}
    local h = model:fit(xs, ys, {epochs = 40, batch_size = 16, validation_split = 0.2, verbose = false})
    assert.is_true(h.loss[40] < h.loss[1])
    assert.is_true(h.val_accuracy[40] >= 0.9, "val accuracy " .. h.val_accuracy[40])
  end)
end)

describe("dagl.nn optimizers and callbacks", function()
  -- Minimizes (w - 3)^2 from w = 0 with an optimizer; returns the final w.
  local function minimize(opt, steps)
    local w = dagl.zeros(1)
    local vg = dagl.grad(function(x) return ((x * w - 3) ^ 2):sum() end, {wrt = {w}})
    for _ = 1, steps do
      local _, _, gw = vg(dagl.ones(1))
      opt.apply({w}, {gw})
    end
    return w:item()
  end

  it("converges with SGD, Adam, AdamW and RMSprop", function()
    assert.is_true(math.abs(minimize(nn.SGD{lr = 0.1}, 100) - 3) < 1e-3)
    assert.is_true(math.abs(minimize(nn.Adam{lr = 0.1}, 300) - 3) < 1e-2)
    assert.is_true(math.abs(minimize(nn.RMSprop{lr = 0.05}, 400) - 3) < 5e-2)
    local wd = minimize(nn.AdamW{lr = 0.1, weight_decay = 0.1}, 300)
    assert.is_true(wd < 3 and wd > 2.5) -- decay pulls it below the unregularized optimum
  end)

  it("takes Adam's first step as lr * sign(g), as the bias correction makes it", function()
    local w = dagl.tensor{1, 1}
    nn.Adam{lr = 0.1}.apply({w}, {dagl.tensor{2, -5}})
    assert.is_true(math.abs(w[1] - 0.9) < 1e-5 and math.abs(w[2] - 1.1) < 1e-5)
  end)

  it("follows learning-rate schedules, clips each gradient's norm (clipnorm) or their global norm", function()
    local cos = nn.schedules.cosine(1.0, 10)
    assert.equal(1.0, cos(0))
    assert.is_true(math.abs(cos(5) - 0.5) < 1e-12 and cos(10) < 1e-12)
    assert.is_true(math.abs(nn.schedules.exponential(1.0, 10, 0.5)(20) - 0.25) < 1e-12)
    local w, u = dagl.zeros(2), dagl.zeros(1)
    nn.SGD{lr = 1, clipnorm = 1}.apply({w, u}, {dagl.tensor{3, 4}, dagl.tensor{0.5}}) -- norm 5 -> 1; 0.5 stays
    assert.is_true(math.abs(w[1] + 0.6) < 1e-6 and math.abs(w[2] + 0.8) < 1e-6 and math.abs(u[1] + 0.5) < 1e-6)
    w, u = dagl.zeros(2), dagl.zeros(1)
    nn.SGD{lr = 1, global_clipnorm = 1.3}.apply({w, u}, {dagl.tensor{3, 4}, dagl.tensor{12}}) -- norm 13 -> 1.3
    assert.is_true(math.abs(w[1] + 0.3) < 1e-6 and math.abs(w[2] + 0.4) < 1e-6 and math.abs(u[1] + 1.2) < 1e-6)
  end)

  it("stops early and logs CSV rows", function()
    local stop = nn.callbacks.early_stopping{monitor = "val_loss", patience = 2}
    local seen = {}
    for epoch, v in ipairs {1.0, 0.8, 0.9, 0.85, 0.7} do
      seen[#seen + 1] = epoch
      if stop(epoch, {val_loss = v}) == false then break end
    end
    assert.same({1, 2, 3, 4}, seen)
    local path = os.tmpname()
    local log = nn.callbacks.csv_logger(path)
    log(1, {loss = 0.5, accuracy = 0.75})
    log(2, {loss = 0.25})
    local text = assert(io.open(path)):read("a")
    os.remove(path)
    assert.equal("epoch,loss,accuracy,val_loss,val_accuracy\n1,0.5,0.75,,\n2,0.25,,,\n", text)
  end)
end)

describe("dagl.nn layers", function()
  it("normalizes rows with LayerNormalization (and its gradient checks out)", function()
    local ln = nn.LayerNormalization{epsilon = 0}
    local x = dagl.tensor{{1, 2, 3, 4}, {2, 2, 2, 6}}
    local y = ln(x)
    for i = 1, 2 do
      local row = y[i]
      assert.is_true(math.abs(row:mean():item()) < 1e-6)
      assert.is_true(math.abs(row:var(nil, false, 0):item() - 1) < 1e-5)
    end
    -- d/dx of sum(LN(x) * c) against central differences (float64)
    local ln64 = nn.LayerNormalization{epsilon = 1e-3}
    local x64 = dagl.randn({3, 5}, "float64")
    ln64:build(x64.shape) ln64.built = true
    ln64.gamma = ln64.gamma:double() ln64.beta = ln64.beta:double()
    local c = dagl.randn({3, 5}, "float64")
    local f = function(z) return (ln64(z) * c):sum() end
    local _, g = dagl.grad(f)(x64)
    local eps, flat, gflat = 1e-6, x64:view(-1), g:view(-1)
    for k = 1, #flat do
      local v = flat[k]
      flat[k] = v + eps
      local up = f(x64):item()
      flat[k] = v - eps
      local down = f(x64):item()
      flat[k] = v
      assert.is_true(math.abs((up - down) / (2 * eps) - gflat[k]) < 1e-5)
    end
  end)

  it("has leaky_relu and gelu activations", function()
    local x = dagl.tensor{-2, 0.5}
    local lr = nn.Activation("leaky_relu")(x):totable()
    assert.is_true(math.abs(lr[1] + 0.4) < 1e-7 and lr[2] == 0.5) -- Keras 3's slope 0.2
    local g = nn.Activation("gelu")(dagl.tensor{1}):item()
    assert.is_true(math.abs(g - 0.8413447) < 1e-5) -- exact: torch.nn.functional.gelu(1)
    local gt = nn.Activation("gelu_tanh")(dagl.tensor{1}):item()
    assert.is_true(math.abs(gt - 0.8411920) < 1e-5) -- torch.nn.functional.gelu(1, approximate="tanh")
    assert.has_error(function() nn.Activation("swishy") end)
  end)
end)
