--- dagl.nn.training: Model's train step, fit loop, evaluate and predict. The whole training
-- step (forward, loss, add_loss terms, backward, metrics, the optimizer's update of every weight
-- and its state, the add_update writes) is traced once per batch shape and runs as one graph on
-- the threaded scheduler; the writes are assign nodes, ordered after every read of their targets.
local dagl = require "dagl"
local fn = require "dagl.fn"
local grad = require "dagl.grad"
local data = require "dagl.nn.data"
local options = require "dagl.options"

local nn = require "dagl.nn.base"

-- Releases a tensor's memory now (its __close), for the per-step tensors dagl makes and drops
-- (hyper-parameters, loss and metric values, batch parts): memory does not wait for the collector.
local function drop(t)
  getmetatable(t).__close(t)
end

-- Splits graph arguments into the model inputs (a tensor or a list) and the targets list.
local function split(args, nin)
  local xs = table.move(args, 1, nin, 1, {})
  local ys = table.move(args, nin + 1, #args, 1, {})
  return nin == 1 and xs[1] or xs, ys
end

-- The loss (summed over the outputs, plus every collected add_loss term) and the metric
-- values (on the first output) of predictions against targets, traced.
local function loss_and_metrics(self, pred, ys, extra)
  local outs = (type(pred) == "table" and not pred.shape) and pred or {pred}
  if #ys ~= #outs then error(("fit: the model has %d outputs, got %d targets"):format(#outs, #ys), 0) end
  local loss
  for i, p in ipairs(outs) do
    local l = self.loss:training_value(p, ys[i])
    loss = loss and loss + l or l
  end
  for _, l in ipairs(extra) do loss = loss + l end
  local ms = {}
  for i, f in ipairs(self.metric_fns or {}) do ms[i] = f(outs[1], ys[1]) end
  return loss, ms
end

-- Runs the forward pass under nn.collect(training) and scores it; returns loss, metrics, updates.
local function scored(self, training, args)
  local xs, ys = split(args, self._nin or 1)
  local updates, extra, pred = nn.collect(training, function() return self(xs) end)
  local loss, ms = loss_and_metrics(self, pred, ys, extra)
  return loss, ms, updates
end

return function(Model)
  --- The training step: a dagl.fn callable (inputs..., targets..., hyper... -> loss, metric
  -- values) whose graph also updates the trainable weights with the optimizer (opt.emit) and
  -- writes the add_update values (BatchNorm's moving statistics); hyper are the optimizer's
  -- per-step scalars (opt.next_hyper). Returns it and the weights it updates.
  function Model:train_step()
    if not self.step then
      local weights, opt = self:trainable_weights(), self.optimizer
      local nh = #opt.hyper_names
      self.step = dagl.fn(function(...)
        local args = table.pack(...)
        local hyper = table.move(args, args.n - nh + 1, args.n, 1, {})
        local loss, ms, updates = scored(self, true, table.move(args, 1, args.n - nh, 1, {}))
        local ids = {}
        for i, w in ipairs(weights) do ids[i] = fn.lift(loss, w).id end
        opt.emit(weights, grad.backward(loss, ids), hyper)
        for _, u in ipairs(updates) do dagl.assign(u.target, u.value) end
        return loss, table.unpack(ms)
      end)
      self.step_weights = weights
    end
    return self.step, self.step_weights
  end

  -- Builds the model for a first batch, counts inputs, resolves the metrics.
  local function prepare(self, xb)
    self._nin = data.is_list(xb) and #xb or 1
    if not self.output_shape then self:build(data.shapes(xb)) end
    local first = type(self.output_shape[1]) == "table" and self.output_shape[1] or self.output_shape
    self.n_classes = first[#first]
    if not self.metric_fns then
      self.metric_fns = {}
      for i, m in ipairs(self.metrics or {}) do
        local ok, f = pcall(nn.metrics.get, m, self.loss, self.n_classes)
        if not ok then error(dagl.is_interrupt(f) and f or "compile: " .. f, 0) end
        self.metric_fns[i] = f
      end
    end
  end

  -- Graph arguments of a batch: the inputs, then the targets as the graph takes them; `made`
  -- lists the targets made here (one-hot rows, conversions), which the caller drops after the
  -- run instead of leaving them to the collector (the user's own tensors are never in it).
  local function batch_args(self, xb, yb)
    local args, made = {table.unpack(data.list(xb))}, {}
    local given = {}
    for _, t in ipairs(data.list(yb)) do given[t] = true end
    for _, t in ipairs(data.list(data.targets(yb, self.sparse, self.n_classes))) do
      args[#args + 1] = t
      if dagl.is_tensor(t) and not given[t] then made[#made + 1] = t end
    end
    args.made = made
    return args
  end
  -- Drops what batch_args made.
  local function drop_made(args)
    for _, t in ipairs(args.made or {}) do drop(t) end
  end

  -- One optimizer step on a batch (one run of the train-step graph, which updates the weights);
  -- returns the loss and the metric values. The optimizer counts the step before the run (its
  -- hyper values depend on the count); when the step ends in an error (Ctrl-C) before its run
  -- completed, which the graph's run count tells (counted in C, so wherever the interrupt lands),
  -- the count is put back: the step counter always matches the weights.
  local function train_batch(self, args)
    local step, weights = self:train_step()
    local dtype = weights[1] and weights[1]:dtype() or "float32"
    local opt, graph, runs = self.optimizer, nil, nil
    local count = opt.iterations
    local undo <close> = setmetatable({}, {__close = function(_, err)
      if err ~= nil and not (graph and graph:num_runs() > runs) then opt.iterations = count end
    end})
    local first_hyper = #args + 1
    for _, h in ipairs(opt.next_hyper()) do args[#args + 1] = dagl.tensor(h, dtype) end
    local g = step:graph(table.unpack(args)) -- traced on first use
    runs = g:num_runs()
    graph = g -- set after runs: an interrupt between the two leaves graph nil (nothing ran)
    local res = table.pack(step(table.unpack(args)))
    for i = first_hyper, #args do drop(args[i]) end
    drop_made(args)
    local ms = {}
    for i = 2, res.n do ms[i - 1] = res[i]:item() end
    local loss = res[1]:item()
    for i = 1, res.n do drop(res[i]) end
    return loss, ms
  end

  -- A Keras-style progress line: overwritten in place on a terminal, printed once per epoch otherwise.
  local function progress(p, done, logs, keys, final)
    local width = 24
    local fill = math.floor(width * done / p.total)
    local parts = {}
    for _, k in ipairs(keys) do
      if logs[k] then parts[#parts + 1] = ("%s: %.4f"):format(k, logs[k]) end
    end
    local elapsed = dagl.wall_time() - p.t0
    local eta = done < p.total and ("ETA %.1fs"):format(elapsed / done * (p.total - done)) or ("%.1fs"):format(elapsed)
    local line = ("Epoch %d/%d %d/%d [%s%s] %s - %s"):format(p.epoch, p.epochs, done, p.total, string.rep("=", fill),
      string.rep(".", width - fill), eta, table.concat(parts, " - "))
    if p.tty then
      io.write("\r", line, final and "\n" or "")
      io.flush()
    elseif final then
      print(line)
    end
  end

  local function shuffled_indices(n)
    local idx = {}
    for i = 1, n do idx[i] = i end
    for i = n, 2, -1 do
      local k = math.random(i)
      idx[i], idx[k] = idx[k], idx[i]
    end
    return idx
  end

  -- An epoch's batches: next_batch(b, i, j) gives rows i..j of the (shuffled) data. One input
  -- and one target tensor go through dagl.data.batches, which gathers batch b+1 on a background
  -- thread while batch b trains; other data (lists of tensors, Lua label lists) is gathered
  -- here, the whole epoch at once.
  local function batches(x, y, n, bs, shuffle)
    if dagl.is_tensor(x) and dagl.is_tensor(y) then
      -- the last batch starts no gather, so a finished epoch leaves nothing pending
      local it = dagl.data.batches(x, y, {batch_size = bs, shuffle = shuffle, seed = math.random(0, 0x7FFFFFFF)})
      return it -- ignores the (b, i, j) the fallback below takes
    end
    local order = shuffle and shuffled_indices(n) or nil
    local ex, ey = order and data.take(x, order) or x, order and data.take(y, order) or y
    return function(_, i, j) return data.rows(ex, i, j), data.rows(ey, i, j) end
  end

  -- Averages of loss and metrics over batches, weighted by batch rows, as a logs table.
  local function averages(self, sums, count, prefix)
    local logs = {[prefix .. "loss"] = sums[0] / count}
    for i, name in ipairs(self.metric_names or {}) do logs[prefix .. name] = sums[i] / count end
    return logs
  end
  local function accumulate(sums, loss, ms, rows)
    sums[0] = (sums[0] or 0) + loss * rows
    for i, m in ipairs(ms) do sums[i] = (sums[i] or 0) + m * rows end
  end

  -- Tiny data for the probes of the declarations below (spec/options_spec.lua).
  local function probe_model()
    local m = nn.Sequential{nn.Dense(1)}
    m:compile{loss = "mse"}
    return m, dagl.ones(2, 2), dagl.ones(2, 1)
  end
  -- The callbacks option: one callback (a function or a table of hooks) or a list of them.
  -- (a table's items are checked by nn.callbacks.list when fit starts its callbacks).
  local function callbacks_type(v)
    if type(v) == "function" or type(v) == "table" then return true end
    return false, "a callback or a list of callbacks"
  end
  local VERBOSE_TYPE = {"boolean", options.enum {0, 1, 2, "auto"}} -- Keras's verbose values
  local VERBOSE = {"verbose", VERBOSE_TYPE, default = "auto",
    doc = "0/false silent, 1/true/\"auto\" a progress bar on a terminal (a line per epoch otherwise), 2 a line per epoch"}
  local fit_options = options.declare {name = "fit", path = "model:fit",
    probe = function(o) local m, x, y = probe_model() o.verbose = o.verbose or 0 return m:fit(x, y, o) end,
    {"epochs", "integer", min = 0, default = 1},
    {"batch_size", "integer", min = 1, default = 32},
    {"validation_split", "number", min = 0, below = 1, default = 0},
    {"validation_data", options.simple(function(v) return type(v) == "table" and v[1] ~= nil and v[2] ~= nil end,
      "a table {x, y}")},
    {"validation_batch_size", "integer", min = 1, doc = "default max(batch_size, 256)"},
    {"validation_freq", "integer", min = 1, default = 1, doc = "validate every n epochs"},
    {"shuffle", "boolean", default = true},
    VERBOSE,
    {"callbacks", callbacks_type, default = {}},
    {"initial_epoch", "integer", min = 0, default = 0},
    {"class_weight", "any", unsupported = "no sample or class weights"},
    {"sample_weight", "any", unsupported = "no sample or class weights"},
    {"steps_per_epoch", "integer", unsupported = "an epoch is one pass over x"},
    {"validation_steps", "integer", unsupported = "validation runs over all of the validation data"},
  }
  local evaluate_options = options.declare {name = "evaluate", path = "model:evaluate",
    probe = function(o) local m, x, y = probe_model() return m:evaluate(x, y, o) end,
    {"batch_size", "integer", min = 1, default = 256},
    {"return_dict", "boolean", default = false},
    {"verbose", VERBOSE_TYPE, default = 0, doc = "1, 2 or true print the results in one line"},
    {"sample_weight", "any", unsupported = "no sample weights"},
    {"steps", "integer", unsupported = "evaluation runs over all of x"},
  }
  local predict_options = options.declare {name = "predict", path = "model:predict", positional = {"batch_size"},
    probe = function(o) local m, x = probe_model() return m:predict(x, o) end,
    {"batch_size", "integer", min = 1, default = 256},
    {"verbose", VERBOSE_TYPE, default = 0, doc = "accepted for Keras code; predict prints nothing"},
    {"steps", "integer", unsupported = "prediction runs over all of x"},
  }
  local train_on_batch_options = options.declare {name = "train_on_batch", path = "model:train_on_batch",
    probe = function(o) local m, x, y = probe_model() return m:train_on_batch(x, y, o) end,
    {"return_dict", "boolean", default = false},
    {"sample_weight", "any", unsupported = "no sample weights"},
    {"class_weight", "any", unsupported = "no class weights"},
  }

  -- Raises at fit's caller when nothing would be trained: a model without trainable weights
  -- (e.g. a custom layer that kept its tensors out of add_weight) would "train" at a constant loss.
  local function check_trainable(self)
    if #self:trainable_weights() > 0 then return end
    local n = #self:weights()
    error(("fit: %s has no trainable weights (%s), so training would change nothing; make layer weights with self:add_weight(...), or set trainable = true"):format(
      self.name, n == 0 and "no weights at all" or (n .. " weights, all frozen")), 3)
  end

  --- model:fit(x, y, {epochs=1, batch_size=32, validation_split=0, validation_data={x, y},
  -- shuffle=true, verbose=1, callbacks={...}, initial_epoch=0}) -> history (history.loss[i], ...
  -- one entry per epoch run; history.epoch[i] is its epoch number). initial_epoch=k resumes
  -- training after epoch k (of a checkpoint): epochs k+1 .. epochs run, as in Keras.
  -- verbose: 0/false silent, 1/true a progress bar on a terminal (a line per epoch otherwise),
  -- 2 a line per epoch. Unknown options and bad values raise.
  -- x is a tensor or a list of tensors (several inputs); y a tensor, a Lua list of labels, or
  -- a list of tensors (several outputs). Callbacks: see dagl.nn.callbacks.
  function Model:fit(x, y, ...)
    if select("#", ...) > 1 then error("fit: takes (x, y, {options}); got more arguments", 2) end
    local opts = fit_options:check(..., 1)
    if not self.loss then error("fit: call model:compile{...} first", 2) end
    data.check(x, "x", "fit")
    data.check(y, "y", "fit")
    local n = data.nrows(x)
    if data.nrows(y) ~= n then error(("fit: x has %d rows but y has %d"):format(n, data.nrows(y)), 2) end
    if type(y) == "table" and not data.is_list(y) and math.type(y[1]) == "integer" then
      y = dagl.tensor(y, "int64") -- integer labels: a tensor, so batches can be prefetched
    end
    local bs, epochs = opts.batch_size, opts.epochs
    -- Keras semantics: training resumes after epoch initial_epoch and runs up to epoch `epochs`
    local first = opts.initial_epoch
    local vx, vy = opts.validation_data and opts.validation_data[1], opts.validation_data and opts.validation_data[2]
    if opts.validation_split > 0 then
      local nv = math.floor(n * opts.validation_split)
      vx, vy = data.rows(x, n - nv + 1, n), data.rows(y, n - nv + 1, n)
      x, y, n = data.rows(x, 1, n - nv), data.rows(y, 1, n - nv), n - nv
    end
    prepare(self, data.rows(x, 1, math.min(bs, n)))
    check_trainable(self)
    local keys = {"loss"}
    for _, k in ipairs(self.metric_names or {}) do keys[#keys + 1] = k end
    if vx then for i = 1, #keys do keys[#keys + 1] = "val_" .. keys[i] end end
    local verbose = opts.verbose ~= false and opts.verbose ~= 0
    local p = {epochs = epochs, total = math.ceil(n / bs),
               tty = verbose and opts.verbose ~= 2 and os.getenv("TERM") ~= nil and os.execute("test -t 1") == true}
    local history = {}
    for _, k in ipairs(keys) do history[k] = {} end
    self.history, self.stop_training = history, false
    local cbs = nn.callbacks.runner(opts.callbacks, self)
    cbs:call("on_train_begin", nil, {})
    local logs = {}
    history.epoch = {}
    for epoch = first + 1, epochs do
      p.epoch, p.t0 = epoch, dagl.wall_time()
      cbs:call("on_epoch_begin", epoch, {})
      local next_batch = batches(x, y, n, bs, opts.shuffle ~= false)
      local sums, count = {}, 0
      for b = 1, p.total do
        local i, j = (b - 1) * bs + 1, math.min(b * bs, n)
        local xb, yb = next_batch(b, i, j)
        local loss, ms = train_batch(self, batch_args(self, xb, yb))
        -- the batch's tensors are fit's own (gathered rows, or views of the data): freed now
        for _, t in ipairs(data.list(xb)) do if dagl.is_tensor(t) then drop(t) end end
        for _, t in ipairs(data.list(yb)) do if dagl.is_tensor(t) then drop(t) end end
        accumulate(sums, loss, ms, j - i + 1)
        count = count + (j - i + 1)
        if p.tty then progress(p, b, averages(self, sums, count, ""), keys, false) end
        if cbs.has.on_batch_end then cbs:call("on_batch_end", b, {loss = loss, batch = b, size = j - i + 1}) end
      end
      logs = averages(self, sums, count, "")
      if vx and (epoch - first) % opts.validation_freq == 0 then
        for k, v in pairs(self:evaluate(vx, vy, {return_dict = true,
                                                 batch_size = opts.validation_batch_size or math.max(bs, 256)})) do
          logs["val_" .. k] = v
        end
      end
      for _, k in ipairs(keys) do history[k][#history[k] + 1] = logs[k] end
      history.epoch[#history.epoch + 1] = epoch
      if verbose then progress(p, p.total, logs, keys, true) end
      if cbs:call("on_epoch_end", epoch, logs) or self.stop_training then
        history.stopped_epoch = epoch
        break
      end
    end
    cbs:call("on_train_end", nil, logs)
    return history
  end

  --- model:train_on_batch(x, y) -> loss, metric1, ...: one optimizer step on one batch (a run of
  -- the training-step graph, which updates the weights), as Keras's train_on_batch; for custom
  -- training loops and benchmarks.
  function Model:train_on_batch(x, y, ...)
    if select("#", ...) > 1 then error("train_on_batch: takes (x, y, {options}); got more arguments", 2) end
    local opts = train_on_batch_options:check(..., 1)
    if not self.loss then error("train_on_batch: call model:compile{...} first", 2) end
    data.check(x, "x", "train_on_batch")
    data.check(y, "y", "train_on_batch")
    if data.nrows(y) ~= data.nrows(x) then
      error(("train_on_batch: x has %d rows but y has %d"):format(data.nrows(x), data.nrows(y)), 2)
    end
    prepare(self, x)
    local loss, ms = train_batch(self, batch_args(self, x, y))
    if opts.return_dict then
      local logs = {loss = loss}
      for i, name in ipairs(self.metric_names or {}) do logs[name] = ms[i] end
      return logs
    end
    return loss, table.unpack(ms)
  end

  --- Loss and metric values on the data (one traced graph per batch shape, inference mode):
  -- returns loss, metric1, ... (in compile order), or a table {loss=, <metric>=} with
  -- {return_dict = true}.
  function Model:evaluate(x, y, ...)
    if select("#", ...) > 1 then error("evaluate: takes (x, y, {options}); got more arguments", 2) end
    local opts = evaluate_options:check(..., 1)
    if not self.loss then error("evaluate: call model:compile{...} first", 2) end
    data.check(x, "x", "evaluate")
    data.check(y, "y", "evaluate")
    local n, bs = data.nrows(x), opts.batch_size
    prepare(self, data.rows(x, 1, math.min(bs, n)))
    self.eval_step = self.eval_step or dagl.fn(function(...)
      local loss, ms = scored(self, false, {...})
      return loss, table.unpack(ms)
    end)
    local sums = {}
    for i = 1, n, bs do
      local j = math.min(i + bs - 1, n)
      local args = batch_args(self, data.rows(x, i, j), data.rows(y, i, j))
      local res = {self.eval_step(table.unpack(args))}
      drop_made(args)
      for k = 1, #res do
        local t = res[k]
        res[k] = t:item()
        drop(t)
      end
      accumulate(sums, res[1], table.move(res, 2, #res, 1, {}), j - i + 1)
    end
    local logs = averages(self, sums, n, "")
    if opts.verbose ~= 0 and opts.verbose ~= false then
      local parts = {("loss: %.4f"):format(logs.loss)}
      for _, name in ipairs(self.metric_names or {}) do parts[#parts + 1] = ("%s: %.4f"):format(name, logs[name]) end
      print(("evaluate %d rows - %s"):format(n, table.concat(parts, " - ")))
    end
    if opts.return_dict then return logs end
    local out = {logs.loss}
    for i, name in ipairs(self.metric_names or {}) do out[i + 1] = logs[name] end
    return table.unpack(out)
  end

  --- Predictions for all rows, in batches, through one traced graph (inference mode); a list
  -- of tensors for a model with several outputs.
  function Model:predict(x, ...)
    local opts = predict_options:parse(1, ...)
    data.check(x, "x", "predict")
    self._nin = data.is_list(x) and #x or 1
    self.forward = self.forward or dagl.fn(function(...)
      local xs = {...}
      local _, _, out = nn.collect(false, function() return self(#xs == 1 and xs[1] or xs) end)
      if type(out) == "table" and not out.shape then return table.unpack(out) end
      return out
    end)
    local n, bs = data.nrows(x), opts.batch_size
    local parts = {}
    for i = 1, n, bs do
      local res = {self.forward(table.unpack(data.list(data.rows(x, i, math.min(i + bs - 1, n)))))}
      for k, r in ipairs(res) do
        parts[k] = parts[k] or {}
        table.insert(parts[k], r)
      end
    end
    local outs = {}
    for k, ps in ipairs(parts) do
      outs[k] = data.concat(ps)
      if #ps > 1 then for _, p in ipairs(ps) do drop(p) end end -- copied into outs[k]
    end
    return #outs == 1 and outs[1] or outs
  end
end
