--- dagl.nn.optimizers: SGD, Adam, AdamW, RMSprop and learning-rate schedules.
--
-- Each optimizer is one update formula, written once on operands that may be real tensors or
-- traced symbols: opt.apply(weights, grads) runs it eagerly, opt.emit(weights, grads, hyper)
-- adds it to a training-step trace as assign nodes (Model:fit runs it inside the step's graph).
-- Per-step numbers (the learning rate of a schedule, Adam's bias corrections) are "hyper"
-- values: computed in Lua (in double precision) from the step count, and passed to the graph as
-- scalar inputs at every run, so schedules work without retracing.
local dagl = require "dagl"
local fn = require "dagl.fn"

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

-- The same clipping on traced gradients: a factor min(1, clipnorm / norm) computed in the graph
-- (exactly 1 when the norm is within the limit, so the gradients stay as they are).
local function clip_traced(grads, clipnorm)
  if not clipnorm or #grads == 0 then return grads end
  local sq
  for _, g in ipairs(grads) do
    local s = (g * g):sum()
    sq = sq and sq + s or s
  end
  local factor = (clipnorm / sq:sqrt()):minimum(1)
  local out = {}
  for i, g in ipairs(grads) do out[i] = g * factor end
  return out
end

-- The weight tensor of a weights-list entry (a tensor, or {value=, trainable=}), nil for an
-- entry optimizers skip (trainable = false: BatchNorm's moving statistics).
local function trainable(w)
  if dagl.is_tensor(w) then return w end
  return w.trainable ~= false and w.value or nil
end

-- An optimizer from its spec: spec.state (names of per-weight state tensors, zeros at first use),
-- spec.hyper(lr, step) -> {name = number} (the per-step numbers; lr is the schedule's value) and
-- spec.update(w, g, state, h) -> new w, {name = new state value}, on real tensors and numbers or
-- on symbols alike.
local function optimizer(name, opts, default_lr, spec)
  local states = setmetatable({}, {__mode = "k"}) -- weight tensor -> {name = state tensor}
  local opt = {name = name, iterations = 0}
  local function state_of(w)
    local s = states[w]
    if not s then
      s = {}
      for _, k in ipairs(spec.state) do s[k] = dagl.zeros(w.shape, w:dtype()) end
      states[w] = s
    end
    return s
  end
  -- the names of the hyper values, in the order emit and hyper_values use
  opt.hyper_names = {"lr"}
  for _, k in ipairs(spec.hyper_extra or {}) do opt.hyper_names[#opt.hyper_names + 1] = k end

  --- opt.next_hyper() -> the hyper values of the next step as a list (in hyper_names order),
  -- counting the step.
  function opt.next_hyper()
    opt.iterations = opt.iterations + 1
    local h = spec.hyper(rate(opts.lr or default_lr, opt.iterations), opt.iterations)
    local out = {}
    for i, k in ipairs(opt.hyper_names) do out[i] = h[k] end
    return out, h
  end

  --- opt.apply(weights, grads): one eager step, updating the weights (and state) in place.
  function opt.apply(weights, grads)
    local _, h = opt.next_hyper()
    grads = clip(grads, opts.clipnorm)
    for i, entry in ipairs(weights) do
      local w = trainable(entry)
      if w then
        local s = state_of(w)
        local nw, ns = spec.update(w, grads[i], s, h)
        for _, k in ipairs(spec.state) do s[k]:copy(ns[k]) end
        w:copy(nw)
      end
    end
  end

  --- opt.state_tensors(named) -> {name = tensor}: the state tensors of every trainable weight of
  -- named (a list of {name=, value=, trainable=}, as nn.named_weights gives), keyed
  -- "optimizer/<weight name>/<state name>" (zeros for weights not stepped yet), for checkpoints.
  -- opt.iterations (the steps taken) completes the state.
  function opt.state_tensors(named)
    local out = {}
    for _, e in ipairs(named) do
      local w = trainable(e)
      if w then
        local s = state_of(w)
        for _, k in ipairs(spec.state) do out["optimizer/" .. e.name .. "/" .. k] = s[k] end
      end
    end
    return out
  end

  --- opt.emit(weights, grads, hyper): the same step inside a trace: grads are symbols, hyper a
  -- list of scalar symbols (graph inputs, in hyper_names order); adds an assign node for every
  -- weight and state tensor.
  function opt.emit(weights, grads, hyper)
    local h = {}
    for i, k in ipairs(opt.hyper_names) do h[k] = hyper[i] end
    grads = clip_traced(grads, opts.clipnorm)
    for i, entry in ipairs(weights) do
      local w = trainable(entry)
      if w then
        local g = grads[i]
        local s, syms = state_of(w), {}
        for _, k in ipairs(spec.state) do syms[k] = fn.lift(g, s[k]) end
        local nw, ns = spec.update(fn.lift(g, w), g, syms, h)
        for _, k in ipairs(spec.state) do dagl.assign(s[k], ns[k]) end
        dagl.assign(w, nw)
      end
    end
  end
  return opt
end

local function lr_only(lr) return {lr = lr} end

--- nn.SGD{lr=0.01, momentum=0, nesterov=false, clipnorm=nil}; lr may be a schedule function.
-- Keras's formulas: v = momentum * v - lr * g; w += v, or with nesterov w += momentum * v - lr * g.
function nn.SGD(opts)
  opts = opts or {}
  local mom, nesterov = opts.momentum or 0, opts.nesterov or false
  return optimizer("SGD", opts, 0.01, {state = mom == 0 and {} or {"velocity"}, hyper = lr_only,
    update = function(w, g, s, h)
      if mom == 0 then return w - g * h.lr, {} end
      local v = s.velocity * mom - g * h.lr
      if nesterov then return w + v * mom - g * h.lr, {velocity = v} end
      return w + v, {velocity = v}
    end})
end

--- nn.Adam{lr=0.001, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0 (AdamW-style, decoupled)}
function nn.Adam(opts)
  opts = opts or {}
  local b1, b2, eps, wd = opts.beta1 or 0.9, opts.beta2 or 0.999, opts.eps or 1e-7, opts.weight_decay or 0
  return optimizer(wd ~= 0 and "AdamW" or "Adam", opts, 0.001, {state = {"m", "v"}, hyper_extra = {"c1", "c2"},
    -- the bias corrections 1 - beta^t, from the step count t
    hyper = function(lr, t) return {lr = lr, c1 = 1 - b1 ^ t, c2 = 1 - b2 ^ t} end,
    update = function(w, g, s, h)
      local m = s.m * b1 + g * (1 - b1)
      local v = s.v * b2 + g * g * (1 - b2)
      local step = (m / h.c1) / ((v / h.c2):sqrt() + eps) * h.lr
      if wd ~= 0 then step = step + w * (h.lr * wd) end
      return w - step, {m = m, v = v}
    end})
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
  return optimizer("RMSprop", opts, 0.001, {state = {"avg"}, hyper = lr_only,
    update = function(w, g, s, h)
      local a = s.avg * rho + g * g * (1 - rho)
      return w - g / (a:sqrt() + eps) * h.lr, {avg = a}
    end})
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

--- nn.optimizers.get(spec): an optimizer object as is, or a new one by name (case-insensitive).
nn.optimizers = nn.optimizers or {}
function nn.optimizers.get(spec)
  if type(spec) == "table" and spec.emit then return spec end
  local by_name = {sgd = nn.SGD, adam = nn.Adam, adamw = nn.AdamW, rmsprop = nn.RMSprop}
  local f = type(spec) == "string" and by_name[spec:lower()]
  if not f then
    local names = {"adam", "adamw", "rmsprop", "sgd"}
    local near = type(spec) == "string" and require("dagl.options").nearest(spec:lower(), names)
    error(("unknown optimizer %s (%snames: %s)"):format(require("dagl.options").show(spec),
      near and ("did you mean '" .. near .. "'? ") or "", table.concat(names, ", ")), 2)
  end
  return f()
end
