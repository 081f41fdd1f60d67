-- optimizer_formulas_spec.lua -- the optimizers against their formulas written out here in plain
-- Lua numbers (Keras 3's, from keras/src/optimizers/*.py and base_optimizer.py; PyTorch's, from
-- torch.optim, for formula = "pytorch"): a few steps on small float64 weights with fixed
-- gradients, eagerly (opt.apply) and inside a traced step (opt.emit in a dagl.fn), and a float64
-- linear model trained by fit (shuffle = false); all within 1e-12. Schedules at steps 0, 1, 2, ...
-- against Keras's formulas, and the optimizer's first step reading the schedule at step 0.
local dagl = require "dagl"
local nn = dagl.nn

local TOL = 1e-12

-- ---------------------------------------------------------------------------------------------
-- The reference: one step of each optimizer on lists of numbers. s is the weight's state (a table
-- of lists, made here at first use), w and g lists, lr the step's rate, t the step (1, 2, ...).
local function zeros(n, v)
  local z = {}
  for i = 1, n do z[i] = v or 0 end
  return z
end

local REF = {}

-- Keras 3 SGD: velocity = momentum * velocity - lr * g; w += velocity, or with nesterov
-- w += momentum * velocity - lr * g; without momentum w -= lr * g.
function REF.sgd(c, s, w, g, lr)
  local mu = c.momentum or 0
  s.vel = s.vel or zeros(#w)
  for i = 1, #w do
    if mu == 0 then
      w[i] = w[i] - lr * g[i]
    else
      s.vel[i] = mu * s.vel[i] - lr * g[i]
      w[i] = w[i] + (c.nesterov and (mu * s.vel[i] - lr * g[i]) or s.vel[i])
    end
  end
end

-- Keras 3 Adam: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); (amsgrad: vh = max(vh, v), used
-- for v); w -= alpha * m / (sqrt(v) + eps) with alpha = lr sqrt(1 - b2^t) / (1 - b1^t).
function REF.adam(c, s, w, g, lr, t)
  local b1, b2, eps = c.b1 or 0.9, c.b2 or 0.999, c.eps or 1e-7
  local alpha = lr * math.sqrt(1 - b2 ^ t) / (1 - b1 ^ t)
  s.m, s.v, s.vh = s.m or zeros(#w), s.v or zeros(#w), s.vh or zeros(#w)
  for i = 1, #w do
    s.m[i] = s.m[i] + (g[i] - s.m[i]) * (1 - b1)
    s.v[i] = s.v[i] + (g[i] ^ 2 - s.v[i]) * (1 - b2)
    s.vh[i] = math.max(s.vh[i], s.v[i])
    w[i] = w[i] - alpha * s.m[i] / (math.sqrt(c.amsgrad and s.vh[i] or s.v[i]) + eps)
  end
end

-- PyTorch's Adam (Kingma and Ba's Algorithm 1): m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
-- (amsgrad: vmax = max(vmax, v), used for v); w -= lr * m-hat / (sqrt(v-hat) + eps) with
-- m-hat = m / (1 - b1^t), v-hat = v / (1 - b2^t).
function REF.torch_adam(c, s, w, g, lr, t)
  local b1, b2, eps = c.b1 or 0.9, c.b2 or 0.999, c.eps or 1e-7
  s.m, s.v, s.vmax = s.m or zeros(#w), s.v or zeros(#w), s.vmax or zeros(#w)
  for i = 1, #w do
    s.m[i] = b1 * s.m[i] + (1 - b1) * g[i]
    s.v[i] = b2 * s.v[i] + (1 - b2) * g[i] * g[i]
    s.vmax[i] = math.max(s.vmax[i], s.v[i])
    local mhat = s.m[i] / (1 - b1 ^ t)
    local vhat = (c.amsgrad and s.vmax[i] or s.v[i]) / (1 - b2 ^ t)
    w[i] = w[i] - lr * mhat / (math.sqrt(vhat) + eps)
  end
end

-- Keras 3 RMSprop: v = rho v + (1 - rho) g^2; centered: mg = rho mg + (1 - rho) g and the
-- denominator sqrt(v - mg^2 + eps), else sqrt(v + eps); inc = lr g / denominator; momentum:
-- buf = momentum buf + inc, w -= buf; else w -= inc.
-- PyTorch's (torch = true): the denominator sqrt(v) + eps (centered: sqrt(v - mg^2) + eps); with
-- momentum buf = momentum buf + g / denominator and w -= lr buf, else w -= lr g / denominator.
function REF.rmsprop(c, s, w, g, lr)
  local rho, eps, mu = c.rho or 0.9, c.eps or 1e-7, c.momentum or 0
  s.v, s.mg, s.buf = s.v or zeros(#w), s.mg or zeros(#w), s.buf or zeros(#w)
  for i = 1, #w do
    s.v[i] = rho * s.v[i] + (1 - rho) * g[i] ^ 2
    s.mg[i] = rho * s.mg[i] + (1 - rho) * g[i]
    local var = c.centered and (s.v[i] - s.mg[i] ^ 2) or s.v[i]
    if c.torch then
      local d = math.sqrt(var) + eps
      if mu > 0 then s.buf[i] = mu * s.buf[i] + g[i] / d end
      w[i] = w[i] - lr * (mu > 0 and s.buf[i] or g[i] / d)
    else
      local inc = lr * g[i] / math.sqrt(var + eps)
      if mu > 0 then s.buf[i] = mu * s.buf[i] + inc end
      w[i] = w[i] - (mu > 0 and s.buf[i] or inc)
    end
  end
end

-- Keras 3 Adagrad: acc (from initial_accumulator_value) += g^2; w -= lr g / sqrt(acc + eps).
-- PyTorch's (torch = true): w -= lr g / (sqrt(acc) + eps).
function REF.adagrad(c, s, w, g, lr)
  local eps = c.eps or 1e-7
  s.acc = s.acc or zeros(#w, c.init or 0.1)
  for i = 1, #w do
    s.acc[i] = s.acc[i] + g[i] ^ 2
    local d = c.torch and (math.sqrt(s.acc[i]) + eps) or math.sqrt(s.acc[i] + eps)
    w[i] = w[i] - lr * g[i] / d
  end
end

-- Keras 3's clipping of the gradient lists (base_optimizer.py): clipnorm per tensor
-- (g * c / max(norm, c)), global_clipnorm over all (g * min(1, c / global norm)), clipvalue per
-- element.
local function clip(c, gs)
  local out = {}
  local sq_all = 0
  for _, g in ipairs(gs) do for _, x in ipairs(g) do sq_all = sq_all + x * x end end
  for j, g in ipairs(gs) do
    local sq = 0
    for _, x in ipairs(g) do sq = sq + x * x end
    out[j] = {}
    for i, x in ipairs(g) do
      if c.clipnorm then
        x = x * c.clipnorm / math.max(math.sqrt(sq), c.clipnorm)
      elseif c.global_clipnorm then
        x = x * math.min(1, c.global_clipnorm / math.sqrt(sq_all))
      elseif c.clipvalue then
        x = math.max(-c.clipvalue, math.min(c.clipvalue, x))
      end
      out[j][i] = x
    end
  end
  return out
end

-- A reference optimizer for a case's ref config: step(ws, gs) updates the lists ws in place.
-- The rate of step k (0, 1, ...) is c.lr or c.lr_at(k); weight decay is Keras's (decoupled,
-- w -= w * wd * lr before the step) unless c.l2 (PyTorch's Adam, RMSprop, Adagrad: g += wd * w).
local function reference(c)
  local states, k = {}, 0
  return function(ws, gs)
    local lr = c.lr_at and c.lr_at(k) or c.lr
    gs = clip(c, gs)
    for j, w in ipairs(ws) do
      states[j] = states[j] or {}
      local g = gs[j]
      if c.wd then
        for i = 1, #w do
          if c.l2 then g[i] = g[i] + c.wd * w[i] else w[i] = w[i] - w[i] * c.wd * lr end
        end
      end
      REF[c.kind](c, states[j], w, g, lr, k + 1)
    end
    k = k + 1
  end
end

-- ---------------------------------------------------------------------------------------------
-- The cases: the optimizer as a user makes it, and the reference's config of the same.
local exp_stair = function(k) return 0.1 * 0.5 ^ math.floor(k / 2) end
local cosine = function(k) return 0.05 * (0.9 * 0.5 * (1 + math.cos(math.pi * math.min(k, 3) / 3)) + 0.1) end
local CASES = {
  {"SGD", function() return nn.SGD{learning_rate = 0.1} end, {kind = "sgd", lr = 0.1}},
  {"SGD momentum", function() return nn.SGD(0.1, 0.9) end, {kind = "sgd", lr = 0.1, momentum = 0.9}},
  {"SGD nesterov", function() return nn.SGD{learning_rate = 0.1, momentum = 0.8, nesterov = true} end,
   {kind = "sgd", lr = 0.1, momentum = 0.8, nesterov = true}},
  {"SGD weight_decay", function() return nn.SGD{learning_rate = 0.1, momentum = 0.5, weight_decay = 0.3} end,
   {kind = "sgd", lr = 0.1, momentum = 0.5, wd = 0.3}},
  {"SGD clipnorm", function() return nn.SGD{learning_rate = 0.1, clipnorm = 1.5} end,
   {kind = "sgd", lr = 0.1, clipnorm = 1.5}},
  {"SGD global_clipnorm", function() return nn.SGD{learning_rate = 0.1, global_clipnorm = 2} end,
   {kind = "sgd", lr = 0.1, global_clipnorm = 2}},
  {"SGD clipvalue", function() return nn.SGD{learning_rate = 0.1, clipvalue = 0.75} end,
   {kind = "sgd", lr = 0.1, clipvalue = 0.75}},
  {"SGD staircase schedule", function()
     return nn.SGD{learning_rate = nn.schedules.ExponentialDecay(0.1, 2, 0.5, true), momentum = 0.9}
   end, {kind = "sgd", lr_at = exp_stair, momentum = 0.9}},
  {"Adam", function() return nn.Adam{learning_rate = 0.01} end, {kind = "adam", lr = 0.01}},
  {"Adam betas and a large epsilon", function() return nn.Adam{learning_rate = 0.05, beta_1 = 0.5, beta_2 = 0.9, epsilon = 0.1} end,
   {kind = "adam", lr = 0.05, b1 = 0.5, b2 = 0.9, eps = 0.1}},
  {"Adam amsgrad", function() return nn.Adam{learning_rate = 0.05, beta_2 = 0.5, amsgrad = true} end,
   {kind = "adam", lr = 0.05, b2 = 0.5, amsgrad = true}},
  {"Adam weight_decay", function() return nn.Adam{learning_rate = 0.05, weight_decay = 0.2} end,
   {kind = "adam", lr = 0.05, wd = 0.2}},
  {"Adam cosine schedule", function() return nn.Adam{learning_rate = nn.schedules.cosine(0.05, 3, 0.1)} end,
   {kind = "adam", lr_at = cosine}},
  {"Adam global_clipnorm", function() return nn.Adam{learning_rate = 0.05, global_clipnorm = 1} end,
   {kind = "adam", lr = 0.05, global_clipnorm = 1}},
  {"AdamW", function() return nn.AdamW{learning_rate = 0.05} end, {kind = "adam", lr = 0.05, wd = 0.004}},
  {"AdamW weight_decay amsgrad", function() return nn.AdamW(0.05, 0.1, {amsgrad = true, beta_2 = 0.5}) end,
   {kind = "adam", lr = 0.05, wd = 0.1, amsgrad = true, b2 = 0.5}},
  {"RMSprop", function() return nn.RMSprop{learning_rate = 0.01} end, {kind = "rmsprop", lr = 0.01}},
  {"RMSprop large epsilon", function() return nn.RMSprop{learning_rate = 0.01, rho = 0.5, epsilon = 0.1} end,
   {kind = "rmsprop", lr = 0.01, rho = 0.5, eps = 0.1}},
  {"RMSprop centered momentum", function() return nn.RMSprop{learning_rate = 0.01, momentum = 0.7, centered = true} end,
   {kind = "rmsprop", lr = 0.01, momentum = 0.7, centered = true}},
  {"RMSprop momentum weight_decay", function() return nn.RMSprop{learning_rate = 0.01, momentum = 0.5, weight_decay = 0.1} end,
   {kind = "rmsprop", lr = 0.01, momentum = 0.5, wd = 0.1}},
  {"Adagrad", function() return nn.Adagrad{learning_rate = 0.1} end, {kind = "adagrad", lr = 0.1}},
  {"Adagrad accumulator and epsilon", function() return nn.Adagrad(0.1, 0, 0.05) end,
   {kind = "adagrad", lr = 0.1, init = 0, eps = 0.05}},
  -- formula = "pytorch"
  {"Adam pytorch", function() return nn.Adam{learning_rate = 0.05, epsilon = 0.1, formula = "pytorch"} end,
   {kind = "torch_adam", lr = 0.05, eps = 0.1}},
  {"Adam pytorch amsgrad L2", function()
     return nn.Adam{learning_rate = 0.05, beta_2 = 0.5, amsgrad = true, weight_decay = 0.2, formula = "pytorch"}
   end, {kind = "torch_adam", lr = 0.05, b2 = 0.5, amsgrad = true, wd = 0.2, l2 = true}},
  {"AdamW pytorch", function() return nn.AdamW{learning_rate = 0.05, weight_decay = 0.1, formula = "pytorch"} end,
   {kind = "torch_adam", lr = 0.05, wd = 0.1}},
  {"RMSprop pytorch", function() return nn.RMSprop{learning_rate = 0.01, epsilon = 0.1, formula = "pytorch"} end,
   {kind = "rmsprop", torch = true, lr = 0.01, eps = 0.1}},
  {"RMSprop pytorch centered momentum L2", function()
     return nn.RMSprop{learning_rate = 0.01, alpha = 0.8, momentum = 0.6, centered = true, weight_decay = 0.1,
                       formula = "pytorch"}
   end, {kind = "rmsprop", torch = true, lr = 0.01, rho = 0.8, momentum = 0.6, centered = true, wd = 0.1, l2 = true}},
  {"Adagrad pytorch L2", function()
     return nn.Adagrad{learning_rate = 0.1, epsilon = 0.05, weight_decay = 0.1, formula = "pytorch"}
   end, {kind = "adagrad", lr = 0.1, eps = 0.05, wd = 0.1, l2 = true, torch = true}},
}

-- ---------------------------------------------------------------------------------------------
-- Two weights (a 2x2 matrix and a vector) and three steps of fixed gradients.
local W0 = {{{0.5, -1.0}, {2.0, 0.25}}, {0.1, -0.3, 0.7}}
local GRADS = {
  {{{1.5, -0.2}, {0.3, 2.5}}, {-0.4, 0.9, 1.2}},
  {{{-0.7, 0.1}, {1.1, -1.8}}, {0.6, -2.2, 0.05}},
  {{{0.2, 0.4}, {-0.9, 0.6}}, {1.7, 0.3, -0.8}},
}

local function flat(t)
  local out = {}
  local function walk(v) if type(v) == "table" then for _, x in ipairs(v) do walk(x) end else out[#out + 1] = v end end
  walk(t)
  return out
end
local function tensors(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = dagl.tensor(v, "float64") end
  return out
end

-- Raises unless every weight tensor is within TOL (relative) of the reference's numbers.
local function check(what, ws, ref)
  for j, w in ipairs(ws) do
    local got = flat(w:totable())
    for i, want in ipairs(ref[j]) do
      local d = math.abs(got[i] - want)
      assert(d <= TOL * (1 + math.abs(want)),
        ("%s: weight %d element %d is %.17g, the formula gives %.17g (off by %.3g)"):format(what, j, i, got[i], want, d))
    end
  end
end

describe("optimizers against their formulas (float64, 1e-12)", function()
  for _, case in ipairs(CASES) do
    local name, make, c = case[1], case[2], case[3]

    it(name .. ": eager steps (opt.apply)", function()
      local ws, ref, step = tensors(W0), {flat(W0[1]), flat(W0[2])}, reference(c)
      local opt = make()
      for t, gs in ipairs(GRADS) do
        opt.apply(ws, tensors(gs))
        step(ref, {flat(gs[1]), flat(gs[2])})
        check(("%s, step %d"):format(name, t), ws, ref)
      end
      assert.equal(#GRADS, opt.iterations)
    end)

    it(name .. ": traced steps (opt.emit in a dagl.fn)", function()
      local ws, ref, step = tensors(W0), {flat(W0[1]), flat(W0[2])}, reference(c)
      local opt = make()
      local f = dagl.fn(function(g1, g2, ...)
        opt.emit(ws, {g1, g2}, {...})
        return g1:sum()
      end)
      for t, gs in ipairs(GRADS) do
        local args = tensors(gs)
        for _, h in ipairs(opt.next_hyper()) do args[#args + 1] = dagl.tensor(h, "float64") end
        f(table.unpack(args))
        step(ref, {flat(gs[1]), flat(gs[2])})
        check(("%s, traced step %d"):format(name, t), ws, ref)
      end
    end)

    it(name .. ": fit of a float64 linear model (two epochs of two batches)", function()
      local X, Y = {{1, 2}, {3, -1}, {-2, 0.5}, {0.5, 1.5}}, {1, 0, -1, 2}
      local layer = nn.Dense(1, {use_bias = false, dtype = "float64"})
      local m = nn.Sequential{layer}
      m:build{2, 2}
      local k0 = {0.5, -0.25}
      layer.kernel:copy(dagl.tensor({{k0[1]}, {k0[2]}}, "float64"))
      m:compile{loss = "mse", optimizer = make()}
      local y = {}
      for i, v in ipairs(Y) do y[i] = {v} end
      m:fit(dagl.tensor(X, "float64"), dagl.tensor(y, "float64"), {epochs = 2, batch_size = 2, shuffle = false, verbose = false})
      -- mse over a batch of n rows: dL/dk_j = 2/n sum_i (x_i . k - y_i) x_ij
      local k, step = {k0[1], k0[2]}, reference(c)
      for _ = 1, 2 do
        for b = 0, 1 do
          local g = {0, 0}
          for i = 2 * b + 1, 2 * b + 2 do
            local r = X[i][1] * k[1] + X[i][2] * k[2] - Y[i]
            for j = 1, 2 do g[j] = g[j] + 2 / 2 * r * X[i][j] end
          end
          step({k}, {g})
        end
      end
      check(name .. ", fit", {layer.kernel}, {k})
      assert.equal(4, m.optimizer.iterations)
    end)
  end

  it("reads the schedule at step 0 for the first step, as Keras passes iterations before counting", function()
    local seen = {}
    local opt = nn.SGD{learning_rate = function(step) seen[#seen + 1] = step return 0.1 end}
    seen = {} -- the construction's check called it once
    local w = dagl.tensor({1}, "float64")
    for _ = 1, 3 do opt.apply({w}, {dagl.tensor({1}, "float64")}) end
    assert.same({0, 1, 2}, seen)
    local adam = nn.Adam{learning_rate = nn.schedules.exponential(0.1, 1, 0.5)}
    local list, h = adam.next_hyper()
    assert.equal(0.1, h.lr) -- step 0: the initial rate
    assert.same({"lr", "alpha"}, adam.hyper_names)
    assert.equal(list[2], 0.1 * math.sqrt(1 - 0.999) / (1 - 0.9))
  end)
end)

describe("schedules against Keras's formulas", function()
  local function close(a, b) return math.abs(a - b) <= TOL * (1 + math.abs(b)) end
  local function check_at(f, want, steps)
    for _, k in ipairs(steps or {0, 1, 2, 3, 5, 10}) do
      assert(close(f(k), want(k)), ("step %d: %.17g, the formula gives %.17g"):format(k, f(k), want(k)))
    end
  end

  it("ExponentialDecay: lr * rate^(step / decay_steps), floored with staircase", function()
    check_at(nn.schedules.exponential(0.2, 3, 0.5), function(k) return 0.2 * 0.5 ^ (k / 3) end)
    check_at(nn.schedules.exponential{initial_learning_rate = 0.2, decay_steps = 3, decay_rate = 0.5, staircase = true},
      function(k) return 0.2 * 0.5 ^ math.floor(k / 3) end)
    assert.equal(0.2, nn.schedules.ExponentialDecay(0.2, 3, 0.5)(0))
  end)

  it("CosineDecay: from lr to lr * alpha over decay_steps, then flat", function()
    local function want(lr, n, alpha)
      return function(k)
        k = math.min(k, n)
        return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * k / n)) + alpha)
      end
    end
    check_at(nn.schedules.cosine(1.0, 4), want(1.0, 4, 0))
    check_at(nn.schedules.CosineDecay(0.5, 4, 0.2), want(0.5, 4, 0.2))
    assert.equal(1.0, nn.schedules.cosine(1.0, 4)(0))
  end)

  it("CosineDecay with warmup: linear from lr to warmup_target, then the cosine from warmup_target", function()
    local f = nn.schedules.cosine{initial_learning_rate = 0.0, decay_steps = 4, alpha = 0.1, warmup_target = 0.8,
                                  warmup_steps = 2}
    check_at(f, function(k)
      if k < 2 then return 0.8 * k / 2 end
      local d = math.min(k, 6) - 2
      return 0.8 * (0.9 * 0.5 * (1 + math.cos(math.pi * d / 4)) + 0.1)
    end, {0, 1, 2, 3, 4, 6, 9})
  end)
end)
