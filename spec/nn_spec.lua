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
    local loss = nn.losses.categorical_crossentropy(logits, onehot):item()
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
    model:compile{optimizer = nn.SGD{lr = 0.1, momentum = 0.9}, loss = "sparse_categorical_crossentropy",
                  metrics = {"accuracy"}}
    local h = model:fit(xs, ys, {epochs = 40, batch_size = 16, validation_split = 0.2, verbose = false})
    assert.is_true(h.loss[40] < h.loss[1])
    assert.is_true(h.val_accuracy[40] >= 0.9, "val accuracy " .. h.val_accuracy[40])
  end)
end)
