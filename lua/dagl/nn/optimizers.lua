--- dagl.nn.optimizers: SGD, Adam, AdamW, RMSprop and learning-rate schedules.
local dagl = require "dagl"

local nn = require "dagl.nn.base"
-- A learning rate: a number, or a schedule function of the step count (1, 2, ...).
local function rate(lr, step) return type(lr) == "function" and lr(step) or lr end

-- Scales gradients so their global L2 norm is at most clipnorm (Keras's global_clipnorm).
local function clip(grads, clipnorm)
  if not clipnorm then return grads end
  local sq = 0
  for _, g in ipairs(grads) do sq = sq + (g * g):sum():item() end
  local norm = math.sqrt(sq)
  if norm <= clipnorm then return grads end
  local out = {}
  for i, g in ipairs(grads) do out[i] = g * (clipnorm / norm) end
  return out
end

-- Per-weight state tables, keyed weakly by the weight tensor.
local function state() return setmetatable({}, {__mode = "k"}) end

-- An optimizer: apply(weights, grads) updates each weight in place with update(w, g, lr, step).
-- weights are tensors or weight entries {value=, trainable=}; entries with trainable = false
-- (BatchNorm's moving statistics) are skipped.
local function optimizer(name, opts, default_lr, update)
  local steps = 0
  return {
    name = name,
    apply = function(weights, grads)
      steps = steps + 1
      local lr = rate(opts.lr or default_lr, steps)
      grads = clip(grads, opts.clipnorm)
      for i, w in ipairs(weights) do
        if not dagl.is_tensor(w) then w = w.trainable ~= false and w.value or nil end
        if w then update(w, grads[i], lr, steps) end
      end
    end,
  }
end

--- nn.SGD{lr=0.01, momentum=0, nesterov=false, clipnorm=nil}; lr may be a schedule function.
-- Keras's formulas: v = momentum * v - lr * g; w += v, or with nesterov w += momentum * v - lr * g.
function nn.SGD(opts)
  opts = opts or {}
  local mom, nesterov = opts.momentum or 0, opts.nesterov or false
  local velocity = state()
  return optimizer("SGD", opts, 0.01, function(w, g, lr)
    if mom == 0 then return w:add_(g, -lr) end -- in place, no temporaries
    local v = velocity[w] or dagl.zeros(w.shape, w:dtype())
    v:copy(v * mom - g * lr)
    velocity[w] = v
    if nesterov then w:add_(v, mom):add_(g, -lr) else w:add_(v) end
  end)
end

--- nn.Adam{lr=0.001, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0 (AdamW-style, decoupled)}
function nn.Adam(opts)
  opts = opts or {}
  local b1, b2, eps, wd = opts.beta1 or 0.9, opts.beta2 or 0.999, opts.eps or 1e-7, opts.weight_decay or 0
  local m, v = state(), state()
  return optimizer(wd ~= 0 and "AdamW" or "Adam", opts, 0.001, function(w, g, lr, steps)
    local c1, c2 = 1 - b1 ^ steps, 1 - b2 ^ steps
    local mi, vi = m[w] or dagl.zeros(w.shape, w:dtype()), v[w] or dagl.zeros(w.shape, w:dtype())
    mi:copy(mi * b1 + g * (1 - b1))
    vi:copy(vi * b2 + g * g * (1 - b2))
    m[w], v[w] = mi, vi
    local step = (mi / c1) / ((vi / c2):sqrt() + eps) * lr
    if wd ~= 0 then step = step + w * (lr * wd) end
    w:copy(w - step)
  end)
end

--- nn.AdamW{...}: Adam with decoupled weight decay (default 0.01).
function nn.AdamW(opts)
  opts = opts or {}
  local o = {}
  for k, val in pairs(opts) do o[k] = val end
  o.weight_decay = o.weight_decay or 0.01
  return nn.Adam(o)
end

--- nn.RMSprop{lr=0.001, rho=0.9, eps=1e-7}
function nn.RMSprop(opts)
  opts = opts or {}
  local rho, eps = opts.rho or 0.9, opts.eps or 1e-7
  local avg = state()
  return optimizer("RMSprop", opts, 0.001, function(w, g, lr)
    local a = avg[w] or dagl.zeros(w.shape, w:dtype())
    a:copy(a * rho + g * g * (1 - rho))
    avg[w] = a
    w:copy(w - g / (a:sqrt() + eps) * lr)
  end)
end

--- Learning-rate schedules: functions of the step count, usable as lr=.
nn.schedules = {
  --- lr * rate^(step / decay_steps)
  exponential = function(lr, decay_steps, decay_rate)
    return function(step) return lr * decay_rate ^ (step / decay_steps) end
  end,
  --- cosine decay from lr to lr * alpha over decay_steps
  cosine = function(lr, decay_steps, alpha)
    alpha = alpha or 0
    return function(step)
      local t = math.min(step, decay_steps) / decay_steps
      return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t)) + alpha)
    end
  end,
}
