--- dagl.nn.callbacks: what fit calls during training, and the built-in callbacks (Keras's
-- EarlyStopping, ModelCheckpoint and CSVLogger; early_stopping, model_checkpoint and csv_logger
-- are dagl's older names for them).
--
-- A callback is either
--   a function(epoch, logs, model), run after each epoch; returning false stops fit, or
--   a table with any of on_train_begin(self, logs), on_epoch_begin(self, epoch, logs),
--   on_epoch_end(self, epoch, logs), on_batch_end(self, batch, logs), on_train_end(self, logs);
--   fit sets its `model` field first. on_epoch_end returning false, or setting
--   model.stop_training = true, stops fit after that epoch.
-- fit's callbacks = is one callback or a list of them (nn.callbacks.list).
-- An error inside a callback is raised by fit naming the callback, the hook and the epoch; the
-- weights and model.history keep what the epochs before it (and that epoch) did.
-- Epochs are numbered from 1 (history.epoch, the logs, file names); Keras's callbacks count from
-- 0 internally, so its "epoch > 0" is epoch > 1 here.
local options = require "dagl.options"

local core = require "dagl.core"
local nn = require "dagl.nn.base"
nn.callbacks = {}

local HOOKS = {"on_train_begin", "on_epoch_begin", "on_epoch_end", "on_batch_end", "on_train_end"}

-- Whether a table has one of the hooks (its own or through its metatable).
local function has_hook(t)
  for _, h in ipairs(HOOKS) do if t[h] ~= nil then return true end end
  return false
end

-- Is v one callback: a function, a callable table, or a table with hooks?
local function is_callback(v)
  return type(v) == "function" or (type(v) == "table" and (has_hook(v) or options.callable(v)))
end

--- fit's callbacks = as a list: nil -> {}, one callback (a function or a table with hooks) ->
-- {it}, a list of callbacks -> a copy. Anything else raises, at the caller of the function
-- calling list (level 1, the default) or `level` frames above it.
function nn.callbacks.list(v, level)
  level = (level or 1) + 2
  if v == nil then return {} end
  if is_callback(v) then return {v} end
  local what = "a callback (a function, or a table with " .. table.concat(HOOKS, "/") .. ") or a list of them"
  if type(v) ~= "table" or getmetatable(v) ~= nil then
    error(("fit: callbacks must be %s, got %s"):format(what, options.show(v)), level)
  end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then
      error(("fit: callbacks must be %s, got a table with the key %s and no hooks"):format(what, options.show(k)),
        level)
    end
  end
  local out = {}
  for i, cb in ipairs(v) do
    if not is_callback(cb) then
      error(("fit: callback %d is %s, not a function or a table of hooks (%s)"):format(i,
        type(cb) == "table" and "a table without hooks" or options.show(cb), table.concat(HOOKS, ", ")), level)
    end
    out[i] = cb
  end
  return out
end

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

--- The callbacks of one fit call (one callback or a list, see list): runner:call(hook, index,
-- logs) runs every callback that has the hook and returns true if one asked to stop.
-- runner.has[hook] says whether any has it. how.skip_writers: callbacks that write files
-- (writes_files: ModelCheckpoint, CSVLogger) do not run (the ranks but 0 of a distributed fit).
function nn.callbacks.runner(list, model, how)
  local self = setmetatable({list = nn.callbacks.list(list, 2), model = model, epoch = 0, has = {on_epoch_end = true},
                             skip_writers = how and how.skip_writers}, Runner)
  for _, cb in ipairs(self.list) do
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
    if self.skip_writers and type(cb) == "table" and cb.writes_files then -- ranks but 0 of a distributed fit
      ok = nil
    elseif type(cb) == "function" or not has_hook(cb) then -- a function, or a callable table without hooks
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

-- A class of callback objects: tables of hooks that can also be called as a function(epoch,
-- logs), which runs on_epoch_end.
local function callback_class()
  local cls = {}
  cls.__index = cls
  cls.__call = function(self, epoch, logs) return self:on_epoch_end(epoch, logs) end
  return cls
end

-- Defines a built-in callback under Keras's class name and under dagl's older name, each with
-- its declaration of `opts` (the older one with `older_defaults`): nn.callbacks[name](...)
-- parses Keras's positional forms and options, then make(name, checked options) makes it.
local function define(class, older, positional, opts, older_defaults, make)
  local function decl(name, defaults)
    local spec = {name = name, path = "nn.callbacks." .. name, positional = positional,
                  probe = function(o) return nn.callbacks[name](opts.probe_args(o)) end}
    for _, o in ipairs(opts) do
      if defaults[o[1]] ~= nil then
        local copy = {}
        for k, v in pairs(o) do copy[k] = v end
        copy.default = defaults[o[1]]
        o = copy
      end
      spec[#spec + 1] = o
    end
    local d = options.declare(spec)
    nn.callbacks[name] = function(...)
      local cb = make(name, d:parse(1, ...))
      return cb -- not a tail call: make raises (level 3) at this function's caller
    end
  end
  decl(class, {})
  decl(older, older_defaults)
end

-- ---------------------------------------------------------------------------------------------
-- What EarlyStopping and ModelCheckpoint share: the monitored value and its direction.

-- The direction of a monitored name in mode "auto": down for the loss and the losses' and error
-- metrics' names, up for accuracies; nil when the name does not say.
local function auto_direction(monitor)
  local base = monitor:gsub("^val_", "")
  if base == "loss" or base:find("error") or base:find("crossentropy") or base:find("divergence")
     or base:find("hinge") or base:find("huber") or base == "mse" or base == "mae" then
    return "min"
  end
  if base:find("acc") then return "max" end
  return nil
end

-- "min" or "max" for a callback's mode and monitor; raises when mode is "auto" and the name
-- does not tell (error level `level`: the constructor's caller).
local function direction(who, o, level)
  if o.mode ~= "auto" then return o.mode end
  local d = auto_direction(o.monitor)
  if d then return d end
  error(("%s: mode = 'auto' cannot tell whether '%s' should go down or up: pass mode = 'min' or mode = 'max'")
    :format(who, o.monitor), level)
end

-- Keras's improvement test: v beats ref by more than delta in the callback's direction (any v
-- beats no reference).
local function improves(self, v, ref)
  if ref == nil then return true end
  if self.direction == "min" then return v + self.min_delta < ref end
  return v - self.min_delta > ref
end

-- The monitored value of the logs, or an error naming what the logs hold.
local function monitored(who, monitor, logs)
  local v = logs[monitor]
  if v == nil then
    local keys = {}
    for k in pairs(logs) do keys[#keys + 1] = k end
    table.sort(keys)
    error(("%s: no '%s' in the logs (they hold: %s%s)"):format(who, monitor, table.concat(keys, ", "),
      monitor:match("^val_") and "; is there validation data?" or ""), 0)
  end
  return v
end

local verbose_type = options.enum {0, 1, false, true}

-- The options of a probe (spec/options_spec.lua) with the required file name filled in, unless
-- the probe gives it (as `key` or as path =). Making the callback writes nothing.
local function with_file(o, key, name)
  local t = {}
  if o[key] == nil and o.path == nil then t[key] = name end
  for k, v in pairs(o) do t[k] = v end
  return t
end
local function is_verbose(v) return v == 1 or v == true end

-- ---------------------------------------------------------------------------------------------
-- EarlyStopping

local EARLY = {
  {"monitor", "string", default = "val_loss", doc = "the logs' value watched"},
  {"min_delta", "number", default = 0, doc = "an improvement smaller than this (in absolute value) is none"},
  {"patience", "integer", min = 0, default = 0, doc = "epochs without improvement before stopping"},
  {"verbose", verbose_type, default = 0, doc = "1 prints when it stops and restores"},
  {"mode", options.enum {"auto", "min", "max"}, default = "auto",
   doc = "min: lower is better; max: higher; auto: by the name (loss, errors: min; accuracies: max)"},
  {"baseline", "number", doc = "epochs count as improving only when also better than this"},
  {"restore_best_weights", "boolean", default = false,
   doc = "at the end of training, set the weights of the best epoch"},
  {"start_from_epoch", "integer", min = 0, default = 0, doc = "epochs of warm-up not watched"},
  probe_args = function(o) return o end,
}
local EarlyStopping = callback_class()

-- Makes an EarlyStopping from its checked options.
local function early_stopping(name, o)
  local self = setmetatable({name = name, monitor = o.monitor, min_delta = math.abs(o.min_delta),
                             patience = o.patience, verbose = is_verbose(o.verbose), baseline = o.baseline,
                             restore_best_weights = o.restore_best_weights, start_from_epoch = o.start_from_epoch,
                             direction = direction(name, o, 4), config = options.given(o)}, EarlyStopping)
  self:on_train_begin()
  return self
end

--- nn.callbacks.EarlyStopping{monitor = "val_loss", min_delta = 0, patience = 0, verbose = 0,
-- mode = "auto", baseline =, restore_best_weights = false, start_from_epoch = 0}: Keras's.
-- nn.callbacks.early_stopping{...}: the same, with patience = 3 by default (dagl's older name).
define("EarlyStopping", "early_stopping",
  {"monitor", "min_delta", "patience", "verbose", "mode", "baseline", "restore_best_weights", "start_from_epoch"},
  EARLY, {patience = 3}, early_stopping)

-- State for a new training run (Keras resets it so that one instance serves several fits).
function EarlyStopping:on_train_begin()
  self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = 0, 0, nil, nil, 0
end

-- Keras's rule: each watched epoch waits one more, unless it improves on the best (then the
-- wait restarts only if it also beats the baseline); stops when the wait reaches patience.
function EarlyStopping:on_epoch_end(epoch, logs)
  local v = monitored(self.name, self.monitor, logs)
  if epoch - 1 < self.start_from_epoch then return end
  self.wait = self.wait + 1
  if improves(self, v, self.best) then
    self.best, self.best_epoch = v, epoch
    if self.restore_best_weights then
      if not self.model then
        error(self.name .. ": restore_best_weights needs the model (pass it in fit's callbacks)", 0)
      end
      self.best_weights = self.model:get_weights()
    end
    if self.baseline == nil or improves(self, v, self.baseline) then self.wait = 0 end
    return
  end
  if self.wait >= self.patience and epoch > 1 then
    self.stopped_epoch = epoch
    if self.model then self.model.stop_training = true end
    return false
  end
end

-- Keras restores the best epoch's weights at the end of training, stopped early or not.
function EarlyStopping:on_train_end()
  if self.stopped_epoch > 0 and self.verbose then print(("Epoch %d: early stopping"):format(self.stopped_epoch)) end
  if self.restore_best_weights and self.best_weights then
    if self.verbose then
      print(("Restoring model weights from the end of the best epoch: %d."):format(self.best_epoch))
    end
    self.model:set_weights(self.best_weights)
  end
end

-- ---------------------------------------------------------------------------------------------
-- ModelCheckpoint

-- The path for an epoch: Keras's placeholders {epoch}, {epoch:02d}, {val_loss:.2f} (any key of
-- the logs, Python's format specs d, f, e, g with width and precision).
local function format_path(who, path, epoch, logs)
  return (path:gsub("{([%a_][%w_]*)(:?[^}]*)}", function(key, spec)
    local v = key == "epoch" and epoch or logs[key]
    if v == nil then
      error(("%s: filepath '%s' names {%s}, which is not in the logs"):format(who, path, key), 0)
    end
    if spec == "" then return math.type(v) == "integer" and tostring(v) or ("%.6g"):format(v) end
    local fmt = spec:sub(2)
    if not fmt:match("^0?%d*%.?%d*[dfeEgG]$") then
      error(("%s: filepath '%s': format {%s%s} is not one of d, f, e, g (with width and precision)"):format(who,
        path, key, spec), 0)
    end
    if fmt:sub(-1) == "d" then v = math.tointeger(v) or math.floor(v) end
    return ("%" .. fmt):format(v)
  end))
end

local CHECKPOINT = {
  {"filepath", "string", required = true, aliases = {"path"},
   doc = "where to save; {epoch}, {epoch:02d}, {val_loss:.2f} are filled in"},
  {"monitor", "string", default = "val_loss", doc = "the logs' value save_best_only watches"},
  {"verbose", verbose_type, default = 0, doc = "1 prints each save"},
  {"save_best_only", "boolean", default = false, doc = "save only when monitor improved"},
  {"save_weights_only", "boolean", default = false,
   doc = "true: model:save_weights(path); false: model:save(path), the whole model"},
  {"mode", options.enum {"auto", "min", "max"}, default = "auto",
   doc = "min: lower is better; max: higher; auto: by the name"},
  {"save_freq", "any", default = "epoch", unsupported = "dagl saves at the end of epochs only"},
  {"initial_value_threshold", "number", doc = "the best value to beat at first (save_best_only)"},
  {"include_optimizer", "boolean", default = true,
   doc = "weight checkpoints hold the optimizer's state (resumable)"},
  probe_args = function(o) return with_file(o, "filepath", "unused.safetensors") end,
}
local ModelCheckpoint = callback_class()
ModelCheckpoint.writes_files = true -- only rank 0 of a distributed fit runs it

-- Makes a ModelCheckpoint from its checked options.
local function model_checkpoint(name, o)
  if not o.save_weights_only and not o.include_optimizer then
    error(name .. ": include_optimizer = false is for weight checkpoints (save_weights_only = true); "
      .. "model:save writes the whole model", 3)
  end
  return setmetatable({name = name, filepath = o.filepath, monitor = o.monitor, verbose = is_verbose(o.verbose),
                       save_best_only = o.save_best_only, save_weights_only = o.save_weights_only,
                       include_optimizer = o.include_optimizer, min_delta = 0, best = o.initial_value_threshold,
                       direction = direction(name, o, 4), config = options.given(o)}, ModelCheckpoint)
end

--- nn.callbacks.ModelCheckpoint(filepath, {monitor = "val_loss", verbose = 0, save_best_only =
-- false, save_weights_only = false, mode = "auto", initial_value_threshold =,
-- include_optimizer = true}): Keras's; save_weights_only = false calls model:save(path).
-- nn.callbacks.model_checkpoint{path = ..., ...}: the same with save_weights_only = true by
-- default (dagl's older name: checkpoints through model:save_weights).
define("ModelCheckpoint", "model_checkpoint",
  {"filepath", "monitor", "verbose", "save_best_only", "save_weights_only", "mode", "save_freq",
   "initial_value_threshold"}, CHECKPOINT, {save_weights_only = true}, model_checkpoint)

-- Saves after an epoch: always, or with save_best_only when monitor improved (Keras's rule).
function ModelCheckpoint:on_epoch_end(epoch, logs)
  local path = format_path(self.name, self.filepath, epoch, logs)
  if self.save_best_only then
    local v = monitored(self.name, self.monitor, logs)
    if not improves(self, v, self.best) then
      if self.verbose then print(("Epoch %d: %s did not improve from %.5f"):format(epoch, self.monitor, self.best)) end
      return
    end
    if self.verbose then
      print(("Epoch %d: %s improved from %s to %.5f, saving model to %s"):format(epoch, self.monitor,
        self.best and ("%.5f"):format(self.best) or "none", v, path))
    end
    self.best = v
  elseif self.verbose then
    print(("Epoch %d: saving model to %s"):format(epoch, path))
  end
  if self.save_weights_only then
    self.model:save_weights(path, nil, {include_optimizer = self.include_optimizer})
  elseif type(self.model.save) ~= "function" then
    error(self.name .. ": save_weights_only = false needs model:save (this model has none: "
      .. "pass save_weights_only = true to checkpoint through model:save_weights)", 0)
  else
    self.model:save(path)
  end
end

-- ---------------------------------------------------------------------------------------------
-- CSVLogger

local CSV = {
  {"filename", "string", required = true, aliases = {"path"}, doc = "the CSV file written"},
  {"separator", "string", default = ",", doc = "between the cells"},
  {"append", "boolean", default = false, doc = "add to an existing file (its header kept) instead of starting it"},
  probe_args = function(o) return with_file(o, "filename", "unused.csv") end,
}
local CSVLogger = callback_class()
CSVLogger.writes_files = true

--- nn.callbacks.CSVLogger(filename, separator = ",", append = false): Keras's: a row per epoch
-- with the epoch and every value of the logs (the columns of the first epoch's logs, sorted).
-- nn.callbacks.csv_logger(path) or csv_logger{path =, ...}: the same (dagl's older name).
define("CSVLogger", "csv_logger", {"filename", "separator", "append"}, CSV, {}, function(name, o)
  return setmetatable({name = name, filename = o.filename, separator = o.separator, append = o.append,
                       config = options.given(o)}, CSVLogger)
end)

-- A value as a CSV cell: numbers in the fewest digits that read back the same, text quoted
-- when it holds the separator, a quote or a line break.
local function cell(v, sep)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then
    for p = 1, 17 do
      local s = ("%." .. p .. "g"):format(v)
      if tonumber(s) == v then return s end
    end
  end
  local s = tostring(v)
  if s:find(sep, 1, true) or s:find('[\"\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- Starts the file (or, with append, continues it) for a training run.
function CSVLogger:on_train_begin()
  local existing = self.append and io.open(self.filename, "r")
  self.header = true
  if existing then
    self.header = existing:read(1) == nil
    existing:close()
  else
    local f = assert(io.open(self.filename, "w"))
    f:close()
  end
  self.keys, self.started = nil, true
end

function CSVLogger:on_epoch_end(epoch, logs)
  if not self.started then self:on_train_begin() end
  if not self.keys then
    self.keys = {}
    for k in pairs(logs) do self.keys[#self.keys + 1] = k end
    table.sort(self.keys)
  end
  local f = assert(io.open(self.filename, "a"))
  if self.header then
    f:write(table.concat({"epoch", table.unpack(self.keys)}, self.separator), "\n")
    self.header = false
  end
  local row = {cell(epoch, self.separator)}
  for _, k in ipairs(self.keys) do row[#row + 1] = logs[k] == nil and "NA" or cell(logs[k], self.separator) end
  f:write(table.concat(row, self.separator), "\n")
  f:close()
end

-- The next fit starts the file again (or appends, with append = true).
function CSVLogger:on_train_end() self.started = false end
