--- dagl.nn.optimizer_base: what every optimizer shares (Keras 3's base optimizer): the options
-- (learning_rate, weight_decay, the three clippings, the unsupported EMA and loss-scale options),
-- gradient clipping, decoupled weight decay, the step count, and the two ways of running one
-- update formula: opt.apply (eager) and opt.emit (inside a training-step trace).
--
-- A formula is written once on operands that may be real tensors or traced symbols. Per-step
-- numbers (the schedule's learning rate, Adam's bias-corrected step size) are "hyper" values:
-- computed in Lua in double precision from the step count, and passed to the graph as scalar
-- inputs at every run, so schedules work without retracing.
local dagl = require "dagl"
local fn = require "dagl.fn"
local options = require "dagl.options"

local nn = require "dagl.nn.base"

local M = {}

--- The metatable of every optimizer (options.show names it "a dagl.nn.Optimizer").
M.Optimizer = {__name = "dagl.nn.Optimizer"}

local EMA = "dagl keeps no moving average of the weights"

-- The options of Keras 3's base optimizer that every optimizer takes, after its own; wd_default
-- is weight_decay's default (nil: no decay; AdamW's 0.004).
local function common_options(wd_default)
  return {
    {"weight_decay", "number", min = 0, default = wd_default,
     doc = "decoupled weight decay: w -= w * weight_decay * learning_rate before each step (Keras's)"},
    {"clipnorm", "number", above = 0, doc = "clips each gradient tensor to this L2 norm"},
    {"clipvalue", "number", above = 0, doc = "clips each gradient element to [-clipvalue, clipvalue]"},
    {"global_clipnorm", "number", above = 0, doc = "scales all gradients together so that their global L2 norm is at most this"},
    {"use_ema", "boolean", default = false, unsupported = EMA},
    {"ema_momentum", "number", default = 0.99, unsupported = EMA},
    {"ema_overwrite_frequency", "integer", unsupported = EMA},
    {"loss_scale_factor", "number", unsupported = "dagl trains without loss scaling"},
    {"gradient_accumulation_steps", "integer", unsupported = "every fit batch is one optimizer step"},
  }
end

--- Declares an optimizer's options: learning_rate (default lr_default, alias lr), then `own`
-- (a list of option specs), then the common ones; positional is Keras's order.
function M.declare(name, positional, lr_default, own, wd_default)
  local spec = {name = name, path = "nn." .. name, positional = positional,
                probe = function(o) return nn[name](o) end,
                {"learning_rate", {"number", "callable"}, min = 0, default = lr_default, aliases = {"lr"},
                 doc = "a number >= 0, or a schedule: a function of the step (counted from 0) giving the rate"}}
  for _, o in ipairs(own) do spec[#spec + 1] = o end
  for _, o in ipairs(common_options(wd_default)) do spec[#spec + 1] = o end
  return options.declare(spec)
end

--- The "formula" option of the adaptive optimizers: Keras 3's update (the default) or PyTorch's.
M.FORMULA = {"formula", options.enum {"keras", "pytorch"}, default = "keras",
             doc = "'pytorch': torch.optim's update (epsilon added after the square root, L2 weight decay but for AdamW)"}

-- The learning rate of a step: the number, or the schedule's value at the step (from 0).
local function rate(name, lr, step)
  if type(lr) == "number" then return lr end
  if not options.callable(lr) then
    error(("%s: learning_rate must be a number or a schedule, got %s"):format(name, options.show(lr)), 0)
  end
  local v = lr(step)
  if type(v) ~= "number" or v ~= v or v < 0 then
    error(("%s: the learning_rate schedule gave %s at step %d, not a number >= 0"):format(name, options.show(v), step), 0)
  end
  return v
end

--- Checks what the declaration cannot: at most one clipping (as Keras raises), and a schedule
-- giving a number at step 0. Raises `level` frames above its caller (1: the caller's caller).
function M.check(name, o, level)
  local set = {}
  for _, k in ipairs {"clipnorm", "clipvalue", "global_clipnorm"} do
    if o[k] then set[#set + 1] = k .. " = " .. tostring(o[k]) end
  end
  if #set > 1 then
    error(("%s: only one of clipnorm, clipvalue and global_clipnorm can be set, got %s"):format(name,
      table.concat(set, " and ")), level + 2)
  end
  local ok, err = pcall(rate, name, o.learning_rate, 0)
  if not ok then error(err, level + 2) end
end

-- The gradient clipping the options ask for, on operands (tensors or symbols), as Keras 3 does
-- it: clipnorm per tensor g * c / max(||g||, c); global_clipnorm all g times
-- min(1, c / global norm) (NaN when the norm is not finite); clipvalue elementwise.
local function clipper(o)
  if o.clipnorm then
    local c = o.clipnorm
    return function(grads)
      local out = {}
      for i, g in ipairs(grads) do out[i] = g * c / (g * g):sum():sqrt():maximum(c) end
      return out
    end
  elseif o.global_clipnorm then
    local c = o.global_clipnorm
    return function(grads)
      if #grads == 0 then return grads end
      local sq
      for _, g in ipairs(grads) do
        local s = (g * g):sum()
        sq = sq and sq + s or s
      end
      local norm = sq:sqrt()
      local scale = (c / norm):minimum(1) + (norm - norm)
      local out = {}
      for i, g in ipairs(grads) do out[i] = g * scale end
      return out
    end
  elseif o.clipvalue then
    local c = o.clipvalue
    return function(grads)
      local out = {}
      for i, g in ipairs(grads) do out[i] = g:clamp(-c, c) end
      return out
    end
  end
  return function(grads) return grads end
end

-- The weight tensor of a weights-list entry (a tensor, or {value=, trainable=}), nil for an
-- entry optimizers skip (trainable = false: BatchNorm's moving statistics).
local function trainable(w)
  if dagl.is_tensor(w) then return w end
  return w.trainable ~= false and w.value or nil
end

-- The trainable weights of a weights list and their gradients, in order.
local function trainable_pairs(weights, grads)
  local ws, gs = {}, {}
  for i, entry in ipairs(weights) do
    local w = trainable(entry)
    if w then ws[#ws + 1], gs[#gs + 1] = w, grads[i] end
  end
  return ws, gs
end

--- An optimizer from its checked options o and its formula:
--   spec.state        names of the per-weight state tensors (spec.init[name]: their first
--                     value, 0 by default), made at a weight's first step
--   spec.hyper_names  the names of its per-step numbers besides lr (the rate)
--   spec.hyper(lr, t) -> {name = number} for step t = 1, 2, ... (Keras's iterations + 1)
--   spec.update(w, g, state, h) -> new w, {name = new state value}, on real tensors and
--                     numbers or on symbols alike
--   spec.l2           weight_decay is L2 (added to the gradient, PyTorch's Adam) rather than
--                     decoupled (Keras's, applied to the weight before the step)
function M.make(name, o, spec)
  local states = setmetatable({}, {__mode = "k"}) -- weight tensor -> {name = state tensor}
  local opt = setmetatable({name = name, iterations = 0, learning_rate = o.learning_rate,
                            config = options.given(o)}, M.Optimizer)
  local clip = clipper(o)
  local wd = (o.weight_decay or 0) ~= 0 and o.weight_decay or nil
  local function state_of(w)
    local s = states[w]
    if not s then
      s = {}
      for _, k in ipairs(spec.state) do
        local v = spec.init and spec.init[k] or 0
        s[k] = v == 0 and dagl.zeros(w.shape, w:dtype()) or dagl.full(w.shape, v, w:dtype())
      end
      states[w] = s
    end
    return s
  end
  -- the names of the hyper values, in the order emit and next_hyper use
  opt.hyper_names = {"lr"}
  for _, k in ipairs(spec.hyper_names or {}) do opt.hyper_names[#opt.hyper_names + 1] = k end
  if wd and not spec.l2 then opt.hyper_names[#opt.hyper_names + 1] = "decay" end

  --- opt.next_hyper() -> the hyper values of the next step as a list (in hyper_names order) and
  -- as a table; counts the step. The schedule sees the steps taken before this one (0 first).
  function opt.next_hyper()
    local step = opt.iterations
    local lr = rate(name, opt.learning_rate, step)
    local h = spec.hyper and spec.hyper(lr, step + 1) or {}
    h.lr = lr
    if wd and not spec.l2 then h.decay = wd * lr end
    opt.iterations = step + 1
    local out = {}
    for i, k in ipairs(opt.hyper_names) do out[i] = h[k] end
    return out, h
  end

  -- One weight's step on operands: weight decay (Keras's decoupled one on the weight, or L2 on
  -- the gradient), then the formula.
  local function step_one(w, g, s, h)
    if wd and spec.l2 then
      g = g + w * wd
    elseif wd then
      w = w - w * h.decay
    end
    return spec.update(w, g, s, h)
  end

  --- opt.apply(weights, grads): one eager step, updating the weights (and state) in place.
  function opt.apply(weights, grads)
    local _, h = opt.next_hyper()
    local ws, gs = trainable_pairs(weights, grads)
    gs = clip(gs)
    for i, w in ipairs(ws) do
      local s = state_of(w)
      local nw, ns = step_one(w, gs[i], s, h)
      for _, k in ipairs(spec.state) do s[k]:copy(ns[k]) end
      w:copy(nw)
    end
  end

  --- opt.state_tensors(named) -> {name = tensor}: the state tensors of every trainable weight of
  -- named (a list of {name=, value=, trainable=}, as nn.named_weights gives), keyed
  -- "optimizer/<weight name>/<state name>" (made for weights not stepped yet), for checkpoints.
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
    local ws, gs = trainable_pairs(weights, grads)
    gs = clip(gs)
    for i, w in ipairs(ws) do
      local g = gs[i]
      local s, syms = state_of(w), {}
      for _, k in ipairs(spec.state) do syms[k] = fn.lift(g, s[k]) end
      local nw, ns = step_one(fn.lift(g, w), g, syms, h)
      for _, k in ipairs(spec.state) do dagl.assign(s[k], ns[k]) end
      dagl.assign(w, nw)
    end
  end
  return opt
end

--- Is v an optimizer: one of dagl's, or a table with the protocol fit uses (hyper_names,
-- next_hyper, emit)?
function M.is_optimizer(v)
  if getmetatable(v) == M.Optimizer then return true end
  return type(v) == "table" and type(v.hyper_names) == "table" and type(v.next_hyper) == "function"
    and type(v.emit) == "function"
end

return M
