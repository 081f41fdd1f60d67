-- optimizer_options_spec.lua -- the optimizers' and schedules' options: Keras 3's names and the
-- older spellings (lr, beta1, eps) mean the same; typos, wrong types, out-of-range values, two
-- clippings and Keras options dagl does not have raise at construction, at the caller's line;
-- nn.optimizers.get by name; the learning rate can be changed between fits.
local dagl = require "dagl"
local options = require "dagl.options"
local nn = dagl.nn

-- The error a call raises (the call is not a tail call, so the position is this file's).
local function err_of(f)
  local ok, e = pcall(f)
  assert(not ok, "expected an error")
  return e
end

local function hyper_of(opt)
  local _, h = opt.next_hyper()
  return h
end

describe("optimizer options", function()
  it("take Keras's names, which the older spellings alias", function()
    local a = nn.Adam{learning_rate = 0.5, beta_1 = 0.8, beta_2 = 0.99, epsilon = 1e-3}
    local b = nn.Adam{lr = 0.5, beta1 = 0.8, beta2 = 0.99, eps = 1e-3}
    assert.equal(0.5, a.learning_rate)
    assert.same(hyper_of(a), hyper_of(b))
    assert.same({learning_rate = 0.5, beta_1 = 0.8, beta_2 = 0.99, epsilon = 1e-3}, b.config)
    assert.equal(0.5, hyper_of(nn.Adam(0.5)).lr) -- Keras's positional learning_rate
    local sgd = nn.SGD(0.1, 0.9, true)
    assert.same({learning_rate = 0.1, momentum = 0.9, nesterov = true}, sgd.config)
    assert.equal(0.001, nn.Adam().learning_rate)
    assert.equal(0.01, nn.SGD().learning_rate)
    assert.equal(0.004 * 0.001, hyper_of(nn.AdamW()).decay) -- Keras 3's AdamW weight_decay default
    assert.same({"lr", "alpha", "decay"}, nn.AdamW().hyper_names)
    assert.equal(0.8, nn.RMSprop{alpha = 0.8}.config.rho) -- PyTorch's alpha is rho
  end)

  it("raise at construction on typos, wrong types and values out of range", function()
    local file = "optimizer_options_spec.lua:%d+: "
    assert.matches(file .. "SGD: unknown option 'momentun' %(did you mean 'momentum'%?",
      err_of(function() local o = nn.SGD{momentun = 0.9} return o end))
    assert.matches(file .. "SGD: learning_rate must be a number >= 0 or a function, got '0.1'",
      err_of(function() local o = nn.SGD{lr = "0.1"} return o end))
    assert.matches("Adam: beta_1 must be a number in %[0, 1%), got 1",
      err_of(function() local o = nn.Adam{beta_1 = 1} return o end))
    assert.matches("SGD: momentum must be a number in %[0, 1%], got 1.5",
      err_of(function() local o = nn.SGD{momentum = 1.5} return o end))
    assert.matches("Adam: formula must be one of 'keras', 'pytorch', got 'torch' %(did you mean 'pytorch'%?%)",
      err_of(function() local o = nn.Adam{formula = "torch"} return o end))
    assert.matches("RMSprop: unknown option 'beta_1'",
      err_of(function() local o = nn.RMSprop{beta_1 = 0.9} return o end))
    assert.matches("SGD: takes at most 3 positional arguments",
      err_of(function() local o = nn.SGD(0.1, 0.9, true, 4) return o end))
    assert.matches("AdamW: weight_decay must be a number >= 0, got %-1",
      err_of(function() local o = nn.AdamW{weight_decay = -1} return o end))
  end)

  it("allow one clipping, as Keras raises", function()
    assert.matches("optimizer_options_spec.lua:%d+: SGD: only one of clipnorm, clipvalue and global_clipnorm can be set, " ..
      "got clipnorm = 1 and clipvalue = 0.5", err_of(function() local o = nn.SGD{clipnorm = 1, clipvalue = 0.5} return o end))
    assert.matches("Adam: only one of .* got clipvalue = 1 and global_clipnorm = 2",
      err_of(function() local o = nn.Adam{clipvalue = 1, global_clipnorm = 2} return o end))
    assert.matches("SGD: clipnorm must be a number > 0, got 0",
      err_of(function() local o = nn.SGD{clipnorm = 0} return o end))
  end)

  it("refuse Keras's EMA, loss scaling and gradient accumulation", function()
    assert.matches("Adam: use_ema = true is not supported: dagl keeps no moving average of the weights",
      err_of(function() local o = nn.Adam{use_ema = true} return o end))
    assert.matches("SGD: ema_momentum = 0.9 is not supported",
      err_of(function() local o = nn.SGD{ema_momentum = 0.9} return o end))
    assert.matches("RMSprop: gradient_accumulation_steps = 4 is not supported",
      err_of(function() local o = nn.RMSprop{gradient_accumulation_steps = 4} return o end))
    assert.matches("Adagrad: loss_scale_factor = 128 is not supported",
      err_of(function() local o = nn.Adagrad{loss_scale_factor = 128} return o end))
    assert.is_true(nn.Adam{use_ema = false, ema_momentum = 0.99}.learning_rate == 0.001) -- the defaults pass
  end)

  it("check a schedule at construction: it must give a number >= 0 at step 0", function()
    assert.matches("optimizer_options_spec.lua:%d+: SGD: the learning_rate schedule gave '0.1' at step 0, not a number >= 0",
      err_of(function() local o = nn.SGD{learning_rate = function() return "0.1" end} return o end))
    local opt = nn.SGD{learning_rate = function(step) return step < 2 and 0.1 or -1 end}
    opt.next_hyper()
    opt.next_hyper()
    assert.matches("SGD: the learning_rate schedule gave %-1 at step 2", err_of(function() opt.next_hyper() end))
  end)

  it("change the learning rate between fits, without tracing again", function()
    local m = nn.Sequential{nn.Dense(1)}
    m:compile{loss = "mse", optimizer = nn.SGD{learning_rate = 0.1}}
    local x, y = dagl.tensor{{1, 2}, {3, 4}}, dagl.tensor{{1}, {2}}
    m:fit(x, y, {epochs = 1, batch_size = 2, verbose = false})
    local step = m:train_step()
    m.optimizer.learning_rate = 0
    local before = m:trainable_weights()[1]:clone()
    m:fit(x, y, {epochs = 2, batch_size = 2, verbose = false})
    assert.same(before:totable(), m:trainable_weights()[1]:totable())
    assert.equal(step, m:train_step())
  end)

  it("keep AMSGrad's largest second moment in the checkpoint state", function()
    local m = nn.Sequential{nn.Dense(1, {name = "d"})}
    m:compile{loss = "mse", optimizer = nn.Adam{amsgrad = true}}
    m:build{2, 2}
    local names = {}
    for k in pairs(m.optimizer.state_tensors(nn.named_weights(m))) do names[#names + 1] = k end
    table.sort(names)
    assert.same({"optimizer/d/bias/m", "optimizer/d/bias/v", "optimizer/d/bias/v_hat",
                 "optimizer/d/kernel/m", "optimizer/d/kernel/v", "optimizer/d/kernel/v_hat"}, names)
  end)
end)

describe("nn.optimizers", function()
  it("get makes an optimizer from its name (any case), a config, or returns an optimizer", function()
    assert.equal("Adam", nn.optimizers.get("adam").name)
    assert.equal("RMSprop", nn.optimizers.get("RMSprop").name)
    assert.equal("AdamW", nn.optimizers.get("ADAMW").name)
    assert.equal("SGD", nn.optimizers.get("sgd").name)
    assert.equal("Adagrad", nn.optimizers.get("adagrad").name)
    local opt = nn.Adam{learning_rate = 0.1}
    assert.equal(opt, nn.optimizers.get(opt))
    assert.equal(0.25, nn.optimizers.get{class_name = "SGD", config = {learning_rate = 0.25}}.learning_rate)
    assert.matches("optimizer_options_spec.lua:%d+: unknown optimizer 'adan' %(did you mean 'adam'%? " ..
      "optimizers: adagrad, adam, adamw, rmsprop, sgd%)", err_of(function() local o = nn.optimizers.get("adan") return o end))
    assert.matches("an optimizer config holds class_name and config, got the key 'configs'",
      err_of(function() local o = nn.optimizers.get{class_name = "adam", configs = {}} return o end))
    assert.matches("could not interpret 3 as an optimizer", err_of(function() local o = nn.optimizers.get(3) return o end))
    assert.is_true(nn.is_optimizer(opt))
    assert.is_false(nn.is_optimizer({}))
  end)

  it("holds Keras's names for the same constructors and schedules", function()
    assert.equal(nn.SGD, nn.optimizers.SGD)
    assert.equal(nn.Adam, nn.optimizers.Adam)
    assert.equal(nn.AdamW, nn.optimizers.AdamW)
    assert.equal(nn.RMSprop, nn.optimizers.RMSprop)
    assert.equal(nn.Adagrad, nn.optimizers.Adagrad)
    assert.equal(nn.schedules, nn.optimizers.schedules)
    assert.equal(nn.schedules.exponential, nn.optimizers.schedules.ExponentialDecay)
    assert.equal(nn.schedules.cosine, nn.optimizers.schedules.CosineDecay)
  end)

  it("registers the option type 'optimizer' (a name or an optimizer)", function()
    local ok, v = options.types.optimizer("adam")
    assert.is_true(ok)
    assert.equal("Adam", v.name)
    local bad, what, hint = options.types.optimizer("adma")
    assert.is_false(bad)
    assert.matches("an optimizer", what)
    assert.equal("did you mean 'adam'?", hint)
  end)
end)

describe("schedule options", function()
  it("take Keras's positional order and names, and raise at construction", function()
    local f = nn.schedules.exponential{learning_rate = 0.1, decay_steps = 2, decay_rate = 0.5}
    assert.equal(0.05, f(2))
    assert.matches("optimizer_options_spec.lua:%d+: ExponentialDecay: decay_steps must be a number > 0, got 0",
      err_of(function() local s = nn.schedules.exponential(0.1, 0, 0.5) return s end))
    assert.matches("ExponentialDecay: decay_rate is required",
      err_of(function() local s = nn.schedules.exponential(0.1, 10) return s end))
    assert.matches("CosineDecay: unknown option 'warmup_step' %(did you mean 'warmup_steps'%?",
      err_of(function() local s = nn.schedules.cosine(0.1, 10, {warmup_step = 2}) return s end))
    assert.matches("CosineDecay: alpha must be a number in %[0, 1%], got 2",
      err_of(function() local s = nn.schedules.cosine(0.1, 10, 2) return s end))
  end)
end)
