--- dagl.nn.optimizers: SGD, Adam, AdamW, RMSprop and Adagrad with Keras 3's names, defaults and
-- update formulas (keras/src/optimizers/*.py), the PyTorch variant of the adaptive ones as one
-- option (formula = "pytorch"), and nn.optimizers.get (an optimizer by name, as compile takes it).
-- The shared machinery (options, clipping, weight decay, eager and traced steps) is in
-- dagl.nn.optimizer_base.
local options = require "dagl.options"
local base = require "dagl.nn.optimizer_base"

local nn = require "dagl.nn.base"

-- A decay rate in [0, 1), with its other spellings.
local function fraction(name, default, aliases, doc)
  return {name, "number", min = 0, below = 1, default = default, aliases = aliases, doc = doc}
end
local EPSILON = {"epsilon", "number", min = 0, default = 1e-7, aliases = {"eps"}, doc = "added to the denominator for stability"}

local sgd_options = base.declare("SGD", {"learning_rate", "momentum", "nesterov"}, 0.01, {
  {"momentum", "number", min = 0, max = 1, default = 0, doc = "the velocity's decay (0: plain gradient descent)"},
  {"nesterov", "boolean", default = false, doc = "Nesterov momentum"}})

--- nn.SGD(learning_rate=0.01, momentum=0, nesterov=false, {weight_decay=, clipnorm=, ...}).
-- Keras 3 (sgd.py): v = momentum * v - lr * g; w += v, or with nesterov w += momentum * v - lr * g.
function nn.SGD(...)
  local o = sgd_options:parse(1, ...)
  base.check("SGD", o, 1)
  local mom, nesterov = o.momentum, o.nesterov
  return base.make("SGD", o, {state = mom == 0 and {} or {"velocity"},
    update = function(w, g, s, h)
      if mom == 0 then return w - g * h.lr, {} end
      local v = s.velocity * mom - g * h.lr
      if nesterov then return w + (v * mom - g * h.lr), {velocity = v} end
      return w + v, {velocity = v}
    end})
end

-- Adam's and AdamW's own options, and their positional order (AdamW's weight_decay comes
-- second, as in Keras 3).
local function adam_own(wd_first)
  local own = {fraction("beta_1", 0.9, {"beta1"}, "the decay of the first-moment average"),
               fraction("beta_2", 0.999, {"beta2"}, "the decay of the second-moment average"),
               EPSILON, {"amsgrad", "boolean", default = false, doc = "AMSGrad: divide by the largest second moment so far"},
               base.FORMULA}
  return own, wd_first and {"learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad"}
    or {"learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"}
end
local adam_own_opts, adam_pos = adam_own(false)
local adam_options = base.declare("Adam", adam_pos, 0.001, adam_own_opts)
local adamw_own_opts, adamw_pos = adam_own(true)
local adamw_options = base.declare("AdamW", adamw_pos, 0.001, adamw_own_opts, 0.004)

-- Adam's formula from checked options; name is "Adam" or "AdamW" (their only difference is
-- AdamW's default weight_decay, and with formula = "pytorch" its decay stays decoupled).
local function adam(name, o)
  local b1, b2, eps, ams = o.beta_1, o.beta_2, o.epsilon, o.amsgrad
  local torch = o.formula == "pytorch"
  local state = ams and {"m", "v", "v_hat"} or {"m", "v"}
  local function moments(g, s)
    if torch then return s.m + (g - s.m) * (1 - b1), s.v * b2 + g * g * (1 - b2) end
    return s.m + (g - s.m) * (1 - b1), s.v + (g * g - s.v) * (1 - b2)
  end
  if torch then
    -- torch.optim.Adam/AdamW: w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    return base.make(name, o, {state = state, l2 = name == "Adam", hyper_names = {"step_size", "bc2_sqrt"},
      hyper = function(lr, t) return {step_size = lr / (1 - b1 ^ t), bc2_sqrt = math.sqrt(1 - b2 ^ t)} end,
      update = function(w, g, s, h)
        local m, v = moments(g, s)
        local vh = ams and s.v_hat:maximum(v) or v
        return w - m / (vh:sqrt() / h.bc2_sqrt + eps) * h.step_size, {m = m, v = v, v_hat = ams and vh or nil}
      end})
  end
  -- Keras 3 (adam.py): alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); w -= alpha * m / (sqrt(v) + eps)
  return base.make(name, o, {state = state, hyper_names = {"alpha"},
    hyper = function(lr, t) return {alpha = lr * math.sqrt(1 - b2 ^ t) / (1 - b1 ^ t)} end,
    update = function(w, g, s, h)
      local m, v = moments(g, s)
      local vh = ams and s.v_hat:maximum(v) or v
      return w - m * h.alpha / (vh:sqrt() + eps), {m = m, v = v, v_hat = ams and vh or nil}
    end})
end

--- nn.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=false,
-- {weight_decay=, clipnorm=, formula="keras", ...}): Keras 3's Adam (see adam()).
function nn.Adam(...)
  local o = adam_options:parse(1, ...)
  base.check("Adam", o, 1)
  return adam("Adam", o)
end

--- nn.AdamW(learning_rate=0.001, weight_decay=0.004, ...): Adam with decoupled weight decay
-- (Keras 3's adamw.py: Adam whose weight_decay defaults to 0.004).
function nn.AdamW(...)
  local o = adamw_options:parse(1, ...)
  base.check("AdamW", o, 1)
  return adam("AdamW", o)
end

local rmsprop_options = base.declare("RMSprop", {"learning_rate", "rho", "momentum", "epsilon", "centered"}, 0.001, {
  fraction("rho", 0.9, {"alpha"}, "the decay of the squared-gradient average (PyTorch's alpha)"),
  {"momentum", "number", min = 0, max = 1, default = 0, doc = "the decay of a momentum buffer (0: none)"},
  EPSILON, {"centered", "boolean", default = false, doc = "divide by the estimated variance (subtracting the mean gradient's square)"},
  base.FORMULA})

--- nn.RMSprop(learning_rate=0.001, rho=0.9, momentum=0, epsilon=1e-7, centered=false, {...}).
-- Keras 3 (rmsprop.py): avg = rho * avg + (1 - rho) * g^2 (centered: mg = rho * mg + (1 - rho) * g,
-- and avg - mg^2 below); step = lr * g / sqrt(avg + eps); with momentum buf = momentum * buf +
-- step, w -= buf; else w -= step. PyTorch's: g / (sqrt(avg) + eps), buf = momentum * buf + that,
-- w -= lr * buf.
function nn.RMSprop(...)
  local o = rmsprop_options:parse(1, ...)
  base.check("RMSprop", o, 1)
  local rho, mom, eps, centered, torch = o.rho, o.momentum, o.epsilon, o.centered, o.formula == "pytorch"
  local state = {"avg"}
  if centered then state[#state + 1] = "grad_avg" end
  if mom > 0 then state[#state + 1] = "momentum" end
  return base.make("RMSprop", o, {state = state, l2 = torch,
    update = function(w, g, s, h)
      local avg = s.avg * rho + g * g * (1 - rho)
      local ns = {avg = avg}
      local var = avg
      if centered then
        ns.grad_avg = s.grad_avg * rho + g * (1 - rho)
        var = avg - ns.grad_avg * ns.grad_avg
      end
      local step
      if torch then
        step = g / (var:sqrt() + eps)
      else
        step = g * h.lr / (var + eps):sqrt()
      end
      if mom > 0 then
        ns.momentum = s.momentum * mom + step
        step = ns.momentum
      end
      return w - (torch and step * h.lr or step), ns
    end})
end

local adagrad_options = base.declare("Adagrad", {"learning_rate", "initial_accumulator_value", "epsilon"}, 0.001, {
  {"initial_accumulator_value", "number", min = 0, default = 0.1, doc = "the first value of the squared-gradient sums"},
  EPSILON, base.FORMULA})

--- nn.Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, {...}).
-- Keras 3 (adagrad.py): acc += g^2; w -= lr * g / sqrt(acc + eps). PyTorch's: / (sqrt(acc) + eps).
function nn.Adagrad(...)
  local o = adagrad_options:parse(1, ...)
  base.check("Adagrad", o, 1)
  local eps, torch = o.epsilon, o.formula == "pytorch"
  return base.make("Adagrad", o, {state = {"accumulator"}, init = {accumulator = o.initial_accumulator_value}, l2 = torch,
    update = function(w, g, s, h)
      local acc = s.accumulator + g * g
      local denom = torch and acc:sqrt() + eps or (acc + eps):sqrt()
      return w - g * h.lr / denom, {accumulator = acc}
    end})
end

-- The optimizers by their lowercase names (Keras's names are case-insensitive).
local NAMES = {sgd = "SGD", adam = "Adam", adamw = "AdamW", rmsprop = "RMSprop", adagrad = "Adagrad"}
local NAME_LIST = {"adagrad", "adam", "adamw", "rmsprop", "sgd"}

-- The message for an unknown optimizer name, with the nearest known one.
local function unknown(spec)
  local near = options.nearest(spec:lower(), NAME_LIST)
  return ("unknown optimizer '%s' (%soptimizers: %s)"):format(spec, near and ("did you mean '" .. near .. "'? ") or "",
    table.concat(NAME_LIST, ", "))
end

--- nn.optimizers: Keras's keras.optimizers names (the same constructors as nn.SGD, ...), get,
-- and the schedules.
nn.optimizers = {SGD = nn.SGD, Adam = nn.Adam, AdamW = nn.AdamW, RMSprop = nn.RMSprop, Adagrad = nn.Adagrad,
                 schedules = nn.schedules}

--- nn.optimizers.get(spec) -> an optimizer: spec is a name ("adam", "SGD": case-insensitive; the
-- default options), a config {class_name = "Adam", config = {learning_rate = 0.01}}, or an
-- optimizer (returned as it is). Anything else raises, an unknown name with the nearest one.
function nn.optimizers.get(spec)
  if base.is_optimizer(spec) then return spec end
  if type(spec) == "string" then
    local name = NAMES[spec:lower()]
    if not name then error(unknown(spec), 2) end
    return nn[name]()
  end
  if type(spec) == "table" and getmetatable(spec) == nil and type(spec.class_name) == "string" then
    local name = NAMES[spec.class_name:lower()]
    if not name then error(unknown(spec.class_name), 2) end
    for k in pairs(spec) do
      if k ~= "class_name" and k ~= "config" then
        error(("an optimizer config holds class_name and config, got the key %s"):format(options.show(k)), 2)
      end
    end
    return nn[name](spec.config or {})
  end
  error(("could not interpret %s as an optimizer (a name: %s; or an optimizer such as nn.Adam{...})"):format(
    options.show(spec), table.concat(NAME_LIST, ", ")), 2)
end

--- nn.is_optimizer(v): an optimizer of dagl's, or a table with the protocol fit uses.
nn.is_optimizer = base.is_optimizer

-- The option type "optimizer" (compile's): a name or an optimizer, normalized to the optimizer.
options.type("optimizer", function(v)
  if base.is_optimizer(v) then return true, v end
  if type(v) == "string" and NAMES[v:lower()] then return true, nn[NAMES[v:lower()]]() end
  local near = type(v) == "string" and options.nearest(v:lower(), NAME_LIST)
  local hint = near and ("did you mean '" .. near .. "'?")
    or (type(v) == "function" and "call the constructor: nn.Adam{...}, not nn.Adam") or nil
  return false, "an optimizer (nn.Adam{...}) or its name (" .. table.concat(NAME_LIST, ", ") .. ")", hint
end)

return nn
