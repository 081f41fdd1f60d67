-- train_graph_spec.lua -- the optimizer update inside fit's training graph: assign nodes in the
-- step's graph, weights after a step as the formula says, the in-graph step against the eager
-- optimizer for every optimizer (within 1e-6, and bitwise equal at 1 and 2 threads), metrics
-- reading a weight see it before the update, BatchNorm's moving statistics.
local dagl = require "dagl"
local nn = dagl.nn

-- A small regression model with fixed weights (a copy of `init`, or random ones).
local function make_model(init)
  local m = nn.Sequential{nn.Dense(4, {activation = "tanh"}), nn.Dense(2)}
  m:build{8, 3}
  local ws = m:trainable_weights()
  for i, w in ipairs(ws) do
    if init then w:copy(init[i]) else w:copy(dagl.randn(w.shape)) end
  end
  return m, ws
end

local function clones(ws)
  local out = {}
  for i, w in ipairs(ws) do out[i] = w:clone() end
  return out
end

-- Max over the weights of |a - b| / (1 + max |b|).
local function max_rel_diff(as, bs)
  local worst = 0
  for i = 1, #as do
    local d = (as[i] - bs[i]):abs():max():item() / (1 + bs[i]:abs():max():item())
    worst = math.max(worst, d)
  end
  return worst
end

local optimizers = {
  {"SGD", function() return nn.SGD{lr = 0.1} end},
  {"SGD momentum", function() return nn.SGD{lr = 0.05, momentum = 0.9} end},
  {"SGD nesterov", function() return nn.SGD{lr = 0.05, momentum = 0.9, nesterov = true} end},
  {"SGD clipnorm", function() return nn.SGD{lr = 0.1, clipnorm = 0.05} end},
  {"SGD schedule", function() return nn.SGD{lr = nn.schedules.exponential(0.2, 2, 0.5)} end},
  {"Adam", function() return nn.Adam{lr = 0.01} end},
  {"Adam cosine", function() return nn.Adam{lr = nn.schedules.cosine(0.02, 4)} end},
  {"AdamW", function() return nn.AdamW{lr = 0.01, weight_decay = 0.1} end},
  {"RMSprop", function() return nn.RMSprop{lr = 0.01} end},
  {"RMSprop centered momentum", function() return nn.RMSprop{learning_rate = 0.01, centered = true, momentum = 0.5} end},
  {"Adam amsgrad pytorch", function() return nn.Adam{learning_rate = 0.01, amsgrad = true, formula = "pytorch"} end},
  {"Adagrad", function() return nn.Adagrad{learning_rate = 0.1} end},
  {"SGD global_clipnorm", function() return nn.SGD{learning_rate = 0.1, global_clipnorm = 0.05} end},
  {"SGD clipvalue", function() return nn.SGD{learning_rate = 0.1, clipvalue = 0.02} end},
}

describe("fit's in-graph optimizer step", function()
  local x, y, init
  setup(function()
    dagl.manual_seed(11)
    x, y = dagl.randn{32, 3}, dagl.randn{32, 2}
    local _, ws = make_model()
    init = clones(ws)
  end)
  after_each(function() dagl.set_threads(0) end)

  -- fit on 4 batches of 8 (no shuffling) from `init`; returns the weights after
  local function fit_with(make_opt, epochs)
    local m, ws = make_model(init)
    m:compile{loss = "mse", optimizer = make_opt()}
    m:fit(x, y, {epochs = epochs or 1, batch_size = 8, shuffle = false, verbose = false})
    return ws, m
  end

  -- the same steps with eager gradients and opt.apply
  local function eager_with(make_opt, epochs)
    local m, ws = make_model(init)
    m:compile{loss = "mse", optimizer = make_opt()}
    local vg = dagl.grad(function(xb, yb) return m.loss(m(xb), yb) end, {wrt = ws, argnums = {}})
    for _ = 1, epochs or 1 do
      for i = 1, 32, 8 do
        local res = {vg(x:narrow(1, i, 8), y:narrow(1, i, 8))}
        m.optimizer.apply(ws, {table.unpack(res, 2)})
      end
    end
    return ws
  end

  for _, case in ipairs(optimizers) do
    it("gives the eager optimizer's weights with " .. case[1] .. ", the same bits at 1 and 2 threads", function()
      local eager = eager_with(case[2], 2)
      dagl.set_threads(1)
      local one = fit_with(case[2], 2)
      dagl.set_threads(2)
      local two = fit_with(case[2], 2)
      local moved = max_rel_diff(eager, init)
      assert.is_true(moved > 1e-3, "the weights barely moved: " .. moved)
      local d = max_rel_diff(one, eager)
      assert.is_true(d <= 1e-6, ("%s: in-graph and eager weights differ by %g"):format(case[1], d))
      for i = 1, #one do assert.same(one[i]:totable(), two[i]:totable()) end
    end)
  end

  it("has an assign node per weight and state tensor in the step's graph", function()
    local _, m = fit_with(function() return nn.Adam{lr = 0.01} end)
    local step, weights = m:train_step()
    assert.equal(4, #weights)
    local args = {x:narrow(1, 1, 8), y:narrow(1, 1, 8)}
    for _ = 1, #m.optimizer.hyper_names do args[#args + 1] = dagl.tensor(0.5) end
    local dot = step:dot(table.unpack(args))
    local n = select(2, dot:gsub("assign\\n", ""))
    assert.equal(3 * 4, n) -- each weight, its m and its v
  end)

  it("changes the weights after one step as SGD's formula says", function()
    local lin = nn.Dense(1, {use_bias = false})
    local m = nn.Sequential{lin}
    m:build{2, 2}
    local w = m:trainable_weights()[1]
    w:copy(dagl.tensor{{0.5}, {-0.25}})
    m:compile{loss = "mse", optimizer = nn.SGD{lr = 0.1}}
    local xs, ys = dagl.tensor{{1, 2}, {3, -1}}, dagl.tensor{{1}, {0}}
    m:fit(xs, ys, {epochs = 1, batch_size = 2, verbose = false})
    -- pred = x w; loss = mean((pred - y)^2); dL/dw_j = 2/n sum_i (pred_i - y_i) x_ij
    local ww = {0.5, -0.25}
    local X, Y = {{1, 2}, {3, -1}}, {1, 0}
    local want = {}
    for j = 1, 2 do
      local g = 0
      for i = 1, 2 do g = g + 2 / 2 * (X[i][1] * ww[1] + X[i][2] * ww[2] - Y[i]) * X[i][j] end
      want[j] = {ww[j] - 0.1 * g}
    end
    assert_close(w, want, 1e-6)
  end)

  it("lets a metric that reads a weight see it before the step's update", function()
    dagl.set_threads(2)
    local m, ws = make_model(init)
    local kernel = ws[1]
    local function wsum(pred) return (pred:sum() * 0 + kernel):sum() end -- reads the weight in the graph
    m:compile{loss = "mse", optimizer = nn.SGD{lr = 0.5}, metrics = {wsum}}
    m.metric_names = {"wsum"}
    local before = {}
    local cb = {on_epoch_begin = function() before[#before + 1] = kernel:sum():item() end}
    local h = m:fit(x, y, {epochs = 6, batch_size = 32, verbose = false, callbacks = {cb}})
    for e = 1, 6 do
      assert.is_true(math.abs(h.wsum[e] - before[e]) <= 1e-6 * (1 + math.abs(before[e])),
        ("epoch %d: the metric saw %.9g, the weights summed to %.9g before the step"):format(e, h.wsum[e], before[e]))
    end
    assert.is_true(math.abs(kernel:sum():item() - before[6]) > 1e-4) -- and the weights did change
  end)

  it("moves BatchNorm's moving statistics inside the graph", function()
    local bn = nn.BatchNormalization{momentum = 0.5}
    local m = nn.Sequential{bn, nn.Dense(1)}
    m:compile{loss = "mse", optimizer = nn.SGD{lr = 0.01}}
    local xs = dagl.tensor{{1, 10}, {3, 20}, {8, 60}}
    m:fit(xs, dagl.zeros(3, 1), {epochs = 2, batch_size = 3, shuffle = false, verbose = false})
    -- mean (4, 30), biased variance (26/3, 1400/3) each step; from 0 and 1: two steps of momentum 0.5
    assert_close(bn.moving_mean, {0.75 * 4, 0.75 * 30}, 1e-5)
    assert_close(bn.moving_variance, {0.25 + 0.75 * 26 / 3, 0.25 + 0.75 * 1400 / 3}, 1e-5)
    local step = m:train_step()
    local dot = step:dot(xs, dagl.zeros(3, 1), dagl.tensor(0.01))
    assert.equal(2 + 4, select(2, dot:gsub("assign\\n", ""))) -- 2 moving statistics, 4 weights
  end)
end)
