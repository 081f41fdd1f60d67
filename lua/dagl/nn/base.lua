--- dagl.nn.base: the one nn table that every part of dagl.nn (layer, core_layers, losses, ...)
-- adds its names to; `require "dagl.nn"` loads the parts and returns it.
--
-- It also holds the protocol between layers and models for training-only behaviour, read while
-- a graph is traced (layers' call() runs once per traced signature, not per step):
--   nn.training         true while a model traces its training step (Dropout drops, BatchNorm
--                       uses batch statistics); false for predict/evaluate traces and eager calls.
--   nn.add_update(t, v) a layer asks that tensor t be overwritten with the value of v (a traced
--                       symbol) at every training step (BatchNorm's moving statistics): the
--                       model adds an assign node; the step's other reads of t see the old value.
--   nn.add_loss(v)      a layer adds a scalar symbol to the training loss (L2 regularizers).
-- The model collects both lists around its training-step trace (nn.collect).
local nn = {training = false}

--- nn.masks[t] = mask: the (batch, steps) 1/0 mask a layer's output carries (Keras's mask
-- propagation): nn.Masking and Embedding{mask_zero = true} set it, the recurrent layers read it
-- for their input when their call gives none. Weak keys: it goes with the tensor or symbol.
nn.masks = setmetatable({}, {__mode = "k"})

local updates, losses -- the lists of the trace being collected, or nil
local name_counts = {}

--- A name unique within the process for a new layer or model of this kind: "dense_1", "dense_2".
function nn.auto_name(kind)
  name_counts[kind] = (name_counts[kind] or 0) + 1
  return kind .. "_" .. name_counts[kind]
end

function nn.add_update(target, value)
  if updates then updates[#updates + 1] = {target = target, value = value} end
end

function nn.add_loss(value)
  if losses then losses[#losses + 1] = value end
end

--- Runs body(...) with nn.training = training, collecting add_update/add_loss calls; returns
-- the updates list, the losses list, then body's results. Restores the previous state on error.
function nn.collect(training, body, ...)
  local saved = {nn.training, updates, losses}
  nn.training, updates, losses = training, {}, {}
  local res = table.pack(pcall(body, ...))
  local u, l = updates, losses
  nn.training, updates, losses = saved[1], saved[2], saved[3]
  if not res[1] then error(res[2], 0) end
  return u, l, table.unpack(res, 2, res.n)
end

return nn
