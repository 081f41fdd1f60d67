--- dagl.nn.schedules: learning-rate schedules, Keras 3's (keras/src/optimizers/schedules/
-- learning_rate_schedule.py): functions of the step, counted from 0 as Keras's optimizer
-- passes its iterations before counting the step; usable as any optimizer's learning_rate.
-- The values are computed in Lua in double precision.
local options = require "dagl.options"

local nn = require "dagl.nn.base"

-- The options every schedule starts with; extra are its own.
-- probe(opts) calls the schedule; example holds the required values of a valid call.
local function declare(name, path, positional, extra, probe, example)
  local spec = {name = name, path = path, positional = positional, probe = probe, example = example,
    {"initial_learning_rate", "number", min = 0, required = true, aliases = {"learning_rate", "lr"},
     doc = "the rate at step 0"},
    {"decay_steps", "number", above = 0, required = true, doc = "the steps one decay period takes"}}
  for _, o in ipairs(extra) do spec[#spec + 1] = o end
  return options.declare(spec)
end

nn.schedules = {}

local exponential_options = declare("ExponentialDecay", "nn.schedules.exponential",
  {"initial_learning_rate", "decay_steps", "decay_rate", "staircase"}, {
    {"decay_rate", "number", above = 0, required = true, doc = "the factor per decay_steps steps"},
    {"staircase", "boolean", default = false, doc = "decay at whole periods only (floor(step / decay_steps))"}},
  function(o) return nn.schedules.exponential(o) end, {initial_learning_rate = 0.1, decay_steps = 10, decay_rate = 0.5})

--- nn.schedules.exponential(initial_learning_rate, decay_steps, decay_rate, staircase=false)
-- (Keras's ExponentialDecay): lr * decay_rate^(step / decay_steps), the exponent floored with
-- staircase.
function nn.schedules.exponential(...)
  local o = exponential_options:parse(1, ...)
  local lr, steps, r, stair = o.initial_learning_rate, o.decay_steps, o.decay_rate, o.staircase
  return function(step)
    local p = step / steps
    if stair then p = math.floor(p) end
    return lr * r ^ p
  end
end

local cosine_options = declare("CosineDecay", "nn.schedules.cosine", {"initial_learning_rate", "decay_steps", "alpha"}, {
  {"alpha", "number", min = 0, max = 1, default = 0, doc = "the final rate as a fraction of the rate decayed from"},
  {"warmup_target", "number", min = 0, doc = "with warmup_steps: the rate reached linearly from initial_learning_rate, then decayed"},
  {"warmup_steps", "number", min = 0, default = 0, doc = "the steps of the linear warmup"}},
  function(o) return nn.schedules.cosine(o) end, {initial_learning_rate = 0.1, decay_steps = 10})

--- nn.schedules.cosine(initial_learning_rate, decay_steps, alpha=0, {warmup_target=,
-- warmup_steps=0}) (Keras's CosineDecay): without warmup, s = min(step, decay_steps) and
-- lr * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha); with warmup_target, the
-- rate first rises linearly from lr to warmup_target over warmup_steps, then decays the same
-- way from warmup_target (s = min(step, warmup_steps + decay_steps) - warmup_steps).
function nn.schedules.cosine(...)
  local o = cosine_options:parse(1, ...)
  local lr, steps, alpha, target, warm = o.initial_learning_rate, o.decay_steps, o.alpha, o.warmup_target, o.warmup_steps
  local function decayed(s, from)
    return from * ((1 - alpha) * (0.5 * (1 + math.cos(math.pi * (s / steps)))) + alpha)
  end
  return function(step)
    if target == nil then return decayed(math.min(step, steps), lr) end
    local s = math.min(step, steps + warm)
    if s < warm then return (target - lr) * (s / warm) + lr end
    return decayed(s - warm, target)
  end
end

-- Keras's class names for the same functions.
nn.schedules.ExponentialDecay = nn.schedules.exponential
nn.schedules.CosineDecay = nn.schedules.cosine

return nn
