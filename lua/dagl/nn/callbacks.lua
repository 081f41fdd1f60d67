--- dagl.nn.callbacks: what fit calls during training, and the built-in callbacks (early
-- stopping, CSV logger, model checkpoint).
--
-- A callback is either
--   a function(epoch, logs, model), run after each epoch; returning false stops fit, or
--   a table with any of on_train_begin(self, logs), on_epoch_begin(self, epoch, logs),
--   on_epoch_end(self, epoch, logs), on_batch_end(self, batch, logs), on_train_end(self, logs);
--   fit sets its `model` field first. on_epoch_end returning false, or setting
--   model.stop_training = true, stops fit after that epoch.
-- An error inside a callback is raised by fit naming the callback, the hook and the epoch; the
-- weights and model.history keep what the epochs before it (and that epoch) did.
local core = require "dagl.core"
local nn = require "dagl.nn.base"
nn.callbacks = {}

local HOOKS = {"on_train_begin", "on_epoch_begin", "on_epoch_end", "on_batch_end", "on_train_end"}

-- A readable name for a callback: its name field, or where its function was defined.
local function describe(cb)
  if type(cb) == "table" and cb.name then return "'" .. cb.name .. "'" end
  local f = type(cb) == "function" and cb or (type(cb) == "table" and (cb.on_epoch_end or cb.on_epoch_begin
    or cb.on_batch_end or cb.on_train_begin or cb.on_train_end))
  if type(f) ~= "function" then return tostring(cb) end
  local info = debug.getinfo(f, "S")
  return ("defined at %s:%d"):format(info.short_src, info.linedefined)
end

local Runner = {}
Runner.__index = Runner

--- The callbacks of one fit call: runner:call(hook, index, logs) runs every callback that has
-- the hook and returns true if one asked to stop. runner.has[hook] says whether any has it.
function nn.callbacks.runner(list, model)
  local self = setmetatable({list = list or {}, model = model, epoch = 0, has = {on_epoch_end = true}}, Runner)
  for i, cb in ipairs(self.list) do
    if type(cb) ~= "function" and type(cb) ~= "table" then
      error(("fit: callback %d is a %s, not a function or a table of hooks"):format(i, type(cb)), 3)
    end
    if type(cb) == "table" then
      cb.model = model
      for _, h in ipairs(HOOKS) do if cb[h] then self.has[h] = true end end
    end
  end
  return self
end

function Runner:call(hook, index, logs)
  if hook == "on_epoch_begin" or hook == "on_epoch_end" then self.epoch = index end
  local stop = false
  for i, cb in ipairs(self.list) do
    local ok, res
    if type(cb) == "function" then
      if hook == "on_epoch_end" then ok, res = pcall(cb, index, logs, self.model) end
    elseif cb[hook] then
      if index == nil then ok, res = pcall(cb[hook], cb, logs) else ok, res = pcall(cb[hook], cb, index, logs) end
    end
    if ok == false then
      if core.is_interrupt(res) then error(res, 0) end -- Ctrl-C in a callback: at its line
      error(("fit: callback %d (%s) failed in %s at epoch %d: %s"):format(i, describe(cb), hook, self.epoch,
        tostring(res)), 0)
    end
    if ok and res == false then stop = true end
  end
  return stop
end

-- Is v better than best for the monitored value (higher for accuracies, lower otherwise)?
local function improves(monitor, v, best, delta)
  if best == nil then return true end
  if monitor:find("acc") then return v > best + delta end
  return v < best - delta
end

-- The monitored value of the logs, or an error saying what is missing.
local function monitored(who, monitor, logs)
  local v = logs[monitor]
  if v == nil then error(("%s: no '%s' in the logs (is there validation data?)"):format(who, monitor), 0) end
  return v
end

-- A callback object that can also be called as a function(epoch, logs).
local function callback(name, hooks)
  hooks.name = name
  return setmetatable(hooks, {__call = function(self, epoch, logs) return self:on_epoch_end(epoch, logs) end})
end

--- Stops when `monitor` (default "val_loss") has not improved by min_delta for `patience` epochs.
function nn.callbacks.early_stopping(opts)
  opts = opts or {}
  local monitor, patience, delta = opts.monitor or "val_loss", opts.patience or 3, opts.min_delta or 0
  local best, waited = nil, 0
  return callback("early_stopping", {on_epoch_end = function(_, _, logs)
    local v = monitored("early_stopping", monitor, logs)
    if improves(monitor, v, best, delta) then
      best, waited = v, 0
    else
      waited = waited + 1
      if waited >= patience then return false end
    end
  end})
end

--- Appends one CSV row per epoch (epoch and every log value) to `path`.
function nn.callbacks.csv_logger(path)
  local keys = {"loss", "accuracy", "val_loss", "val_accuracy"}
  return callback("csv_logger", {on_epoch_end = function(_, epoch, logs)
    local f = assert(io.open(path, epoch == 1 and "w" or "a"))
    if epoch == 1 then f:write("epoch," .. table.concat(keys, ",") .. "\n") end
    local row = {epoch}
    for _, k in ipairs(keys) do row[#row + 1] = logs[k] and ("%.6g"):format(logs[k]) or "" end
    f:write(table.concat(row, ",") .. "\n")
    f:close()
  end})
end

--- nn.callbacks.model_checkpoint{path=, monitor="val_loss", save_best_only=false,
-- include_optimizer=true}: calls model:save_weights(path) after each epoch (only when `monitor`
-- improved with save_best_only), with the optimizer's state unless include_optimizer is false;
-- "{epoch}" in path is replaced by the epoch number.
function nn.callbacks.model_checkpoint(opts)
  if type(opts) ~= "table" or type(opts.path) ~= "string" then
    error("model_checkpoint: expected {path = 'file', monitor =, save_best_only =}", 2)
  end
  local monitor = opts.monitor or "val_loss"
  local best
  return callback("model_checkpoint", {on_epoch_end = function(self, epoch, logs)
    if opts.save_best_only then
      local v = monitored("model_checkpoint", monitor, logs)
      if not improves(monitor, v, best, 0) then return end
      best = v
    end
    self.model:save_weights((opts.path:gsub("{epoch}", tostring(epoch))), nil,
      {include_optimizer = opts.include_optimizer ~= false})
  end})
end
