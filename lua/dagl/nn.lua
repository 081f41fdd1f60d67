--- dagl.nn: Keras-shaped layers, a Sequential model, losses, SGD and a fit loop. Layers are
-- small Lua classes: build(input_shape) makes the weights, call(x) composes dagl ops, so a whole
-- training step (forward, loss, backward) is traced once by dagl.grad and runs as one graph on
-- the threaded scheduler; the optimizer then updates the weights in place.
local dagl = require "dagl"

local nn = {}

-- ---------------------------------------------------------------- layers

--- The base of every layer: a name, build-once weights, and __call.
local Layer = {}
Layer.__index = Layer
nn.Layer = Layer

local counters = setmetatable({}, {__mode = "k"})

-- A unique name per layer class ("dense_1", "dense_2", ...) within the process.
local function auto_name(class)
  counters[class] = (counters[class] or 0) + 1
  return class.kind .. "_" .. counters[class]
end

--- Declares a layer class: nn.Dense = nn.layer_class("dense").
-- Calling the class makes a layer (nn.Dense(64, {...})); calling a layer runs it.
function nn.layer_class(kind)
  local class = setmetatable({kind = kind}, {__index = Layer, __call = function(cls, ...) return cls.new(...) end})
  class.__index = class
  class.__call = Layer.__call
  return class
end

function Layer:init(opts)
  self.name = opts and opts.name or auto_name(getmetatable(self))
  self.weights = {}
  self.built = false
end

--- Adds a trainable weight made by `init` (a tensor); returns it.
function Layer:add_weight(name, tensor)
  self.weights[#self.weights + 1] = {name = self.name .. "/" .. name, value = tensor}
  return tensor
end

function Layer:build(input_shape) end

--- Builds on first use (from the input's shape) and runs call(x) with nodes labelled by name.
function Layer.__call(self, x)
  if not self.built then
    self:build(x.shape)
    self.built = true
  end
  if dagl.is_symbol(x) then return dagl.label(x, self.name, function() return self:call(x) end) end
  return self:call(x)
end

-- Glorot/He initializers (Keras's defaults for Dense: glorot_uniform kernel, zero bias).
local initializers = {
  glorot_uniform = function(fan_in, fan_out, shape)
    local limit = math.sqrt(6 / (fan_in + fan_out))
    return dagl.rand(shape) * (2 * limit) - limit
  end,
  he_normal = function(fan_in, _, shape) return dagl.randn(shape) * math.sqrt(2 / fan_in) end,
  zeros = function(_, _, shape) return dagl.zeros(shape) end,
}

local activations = {
  relu = function(x) return x:relu() end,
  tanh = function(x) return x:tanh() end,
  sigmoid = function(x) return x:sigmoid() end,
  linear = function(x) return x end,
  softmax = function(x)
    local e = (x - x:max(-1, true)):exp()
    return e / e:sum(-1, true)
  end,
  leaky_relu = function(x) return dagl.where(x:gt(0), x, x * 0.01) end,
  -- the tanh approximation of GELU (PyTorch's approximate="tanh"; the erf form needs an erf op)
  gelu = function(x) return x * 0.5 * (1 + ((x + x ^ 3 * 0.044715) * math.sqrt(2 / math.pi)):tanh()) end,
}
nn.activations = activations

--- nn.Dense(units, {activation=, use_bias=true, kernel_initializer="glorot_uniform", name=})
nn.Dense = nn.layer_class("dense")
function nn.Dense.new(units, opts)
  opts = opts or {}
  local self = setmetatable({}, nn.Dense)
  self:init(opts)
  self.units = units
  self.activation = activations[opts.activation or "linear"]
  if not self.activation then error(("Dense: unknown activation '%s'"):format(opts.activation), 2) end
  self.use_bias = opts.use_bias ~= false
  self.init_name = opts.kernel_initializer or "glorot_uniform"
  return self
end

function nn.Dense:build(shape)
  local fan_in = shape[#shape]
  local init = initializers[self.init_name] or error("Dense: unknown initializer " .. self.init_name)
  self.kernel = self:add_weight("kernel", init(fan_in, self.units, {fan_in, self.units}))
  if self.use_bias then self.bias = self:add_weight("bias", dagl.zeros(self.units)) end
end

function nn.Dense:call(x)
  local y = x:matmul(self.kernel)
  if self.bias then y = y + self.bias end
  return self.activation(y)
end

function nn.Dense:output_shape(shape)
  local out = {table.unpack(shape)}
  out[#out] = self.units
  return out
end

--- nn.Activation(name)
nn.Activation = nn.layer_class("activation")
function nn.Activation.new(name, opts)
  local self = setmetatable({}, nn.Activation)
  self:init(opts)
  self.fn = activations[name] or error(("Activation: unknown activation '%s'"):format(name), 2)
  return self
end
function nn.Activation:call(x) return self.fn(x) end

--- nn.Flatten(): keeps the batch dim, flattens the rest.
nn.Flatten = nn.layer_class("flatten")
function nn.Flatten.new(opts)
  local self = setmetatable({}, nn.Flatten)
  self:init(opts)
  return self
end
function nn.Flatten:call(x) return x:reshape(x.shape[1], -1) end
function nn.Flatten:output_shape(shape)
  local n = 1
  for i = 2, #shape do n = n * shape[i] end
  return {shape[1], n}
end

--- nn.LayerNormalization{epsilon=1e-3}: normalizes the last dim, then a learned scale and shift.
nn.LayerNormalization = nn.layer_class("layer_normalization")
function nn.LayerNormalization.new(opts)
  opts = opts or {}
  local self = setmetatable({}, nn.LayerNormalization)
  self:init(opts)
  self.epsilon = opts.epsilon or 1e-3
  return self
end
function nn.LayerNormalization:build(shape)
  self.gamma = self:add_weight("gamma", dagl.ones(shape[#shape]))
  self.beta = self:add_weight("beta", dagl.zeros(shape[#shape]))
end
function nn.LayerNormalization:call(x)
  local mean = x:mean(-1, true)
  local var = x:var(-1, true, 0) -- biased, as Keras and PyTorch normalize
  return (x - mean) / (var + self.epsilon):sqrt() * self.gamma + self.beta
end

-- ---------------------------------------------------------------- losses

-- Log-softmax over the last dim, stable (shifted by the row maximum).
local function log_softmax(z)
  local shifted = z - z:max(-1, true)
  return shifted - shifted:exp():sum(-1, true):log()
end

nn.losses = {
  mse = function(pred, y) return ((pred - y) ^ 2):mean() end,
  mae = function(pred, y) return (pred - y):abs():mean() end,
  --- labels as one-hot rows (dagl.nn.one_hot); predictions are logits
  categorical_crossentropy = function(logits, onehot)
    return -(onehot * log_softmax(logits)):sum() / logits.shape[1]
  end,
}
-- integer labels are turned into one-hot rows before the graph runs (see Model:fit)
nn.losses.sparse_categorical_crossentropy = nn.losses.categorical_crossentropy

--- One-hot rows (float32) of integer class labels 0..n-1 given as a tensor or a table.
function nn.one_hot(labels, n)
  local t = type(labels) == "table" and labels or labels:totable()
  local out = dagl.zeros(#t, n)
  for i, c in ipairs(t) do
    local k = math.tointeger(c)
    if not k or k < 0 or k >= n then error(("one_hot: label %s at %d is not in 0..%d"):format(tostring(c), i, n - 1), 2) end
    out[i][k + 1] = 1
  end
  return out
end

-- ---------------------------------------------------------------- optimizers

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

--- nn.SGD{lr=0.01, momentum=0, nesterov=false, clipnorm=nil}; lr may be a schedule function.
function nn.SGD(opts)
  opts = opts or {}
  local mom, nesterov = opts.momentum or 0, opts.nesterov or false
  local velocity, steps = state(), 0
  return {
    name = "SGD",
    --- Updates every weight in place from its gradient.
    apply = function(weights, grads)
      steps = steps + 1
      local lr = rate(opts.lr or 0.01, steps)
      grads = clip(grads, opts.clipnorm)
      for i, w in ipairs(weights) do
        local g = grads[i]
        if mom ~= 0 then
          local v = velocity[w] or dagl.zeros(w.shape)
          v:copy(v * mom - g * lr)
          velocity[w] = v
          if nesterov then w:add_(v, mom):add_(g, -lr) else w:add_(v) end
        else
          w:add_(g, -lr) -- in place, no temporaries
        end
      end
    end,
  }
end

--- nn.Adam{lr=0.001, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0 (AdamW-style, decoupled)}
function nn.Adam(opts)
  opts = opts or {}
  local b1, b2, eps, wd = opts.beta1 or 0.9, opts.beta2 or 0.999, opts.eps or 1e-7, opts.weight_decay or 0
  local m, v, steps = state(), state(), 0
  return {
    name = wd ~= 0 and "AdamW" or "Adam",
    apply = function(weights, grads)
      steps = steps + 1
      local lr = rate(opts.lr or 0.001, steps)
      grads = clip(grads, opts.clipnorm)
      local c1, c2 = 1 - b1 ^ steps, 1 - b2 ^ steps
      for i, w in ipairs(weights) do
        local g = grads[i]
        local mi, vi = m[w] or dagl.zeros(w.shape), v[w] or dagl.zeros(w.shape)
        mi:copy(mi * b1 + g * (1 - b1))
        vi:copy(vi * b2 + g * g * (1 - b2))
        m[w], v[w] = mi, vi
        local step = (mi / c1) / ((vi / c2):sqrt() + eps) * lr
        if wd ~= 0 then step = step + w * (lr * wd) end
        w:copy(w - step)
      end
    end,
  }
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
  local avg, steps = state(), 0
  return {
    name = "RMSprop",
    apply = function(weights, grads)
      steps = steps + 1
      local lr = rate(opts.lr or 0.001, steps)
      grads = clip(grads, opts.clipnorm)
      for i, w in ipairs(weights) do
        local g = grads[i]
        local a = avg[w] or dagl.zeros(w.shape)
        a:copy(a * rho + g * g * (1 - rho))
        avg[w] = a
        w:copy(w - g / (a:sqrt() + eps) * lr)
      end
    end,
  }
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

-- ---------------------------------------------------------------- callbacks

--- Callbacks are functions(epoch, logs, model) run after each epoch; returning false stops fit.
nn.callbacks = {}

--- Stops when `monitor` (default "val_loss") has not improved by min_delta for `patience` epochs.
function nn.callbacks.early_stopping(opts)
  opts = opts or {}
  local monitor, patience, delta = opts.monitor or "val_loss", opts.patience or 3, opts.min_delta or 0
  local higher = monitor:find("accuracy") ~= nil
  local best, waited = nil, 0
  return function(epoch, logs)
    local v = logs[monitor]
    if v == nil then error(("early_stopping: no '%s' in the logs (is there validation data?)"):format(monitor)) end
    if best == nil or (higher and v > best + delta) or (not higher and v < best - delta) then
      best, waited = v, 0
    else
      waited = waited + 1
      if waited >= patience then return false end
    end
  end
end

--- Appends one CSV row per epoch (epoch and every log value) to `path`.
function nn.callbacks.csv_logger(path)
  local keys = {"loss", "accuracy", "val_loss", "val_accuracy"}
  return function(epoch, logs)
    local f = assert(io.open(path, epoch == 1 and "w" or "a"))
    if epoch == 1 then f:write("epoch," .. table.concat(keys, ",") .. "\n") end
    local row = {epoch}
    for _, k in ipairs(keys) do row[#row + 1] = logs[k] and ("%.6g"):format(logs[k]) or "" end
    f:write(table.concat(row, ",") .. "\n")
    f:close()
  end
end

-- ---------------------------------------------------------------- models

--- nn.Sequential{layer, layer, ...}
local Sequential = {}
Sequential.__index = Sequential
nn.Sequential = Sequential

setmetatable(Sequential, {__call = function(_, layers) return Sequential.new(layers) end})
function Sequential.new(layers)
  return setmetatable({layers = layers or {}}, Sequential)
end

function Sequential:add(layer) self.layers[#self.layers + 1] = layer end

function Sequential:__call(x)
  for _, layer in ipairs(self.layers) do x = layer(x) end
  return x
end

--- Builds every layer from an input shape (batch first) without data.
function Sequential:build(input_shape)
  local shape = input_shape
  for _, layer in ipairs(self.layers) do
    if not layer.built then
      layer:build(shape)
      layer.built = true
    end
    shape = layer.output_shape and layer:output_shape(shape) or shape
  end
  self.input_shape = input_shape
  return shape
end

--- Every trainable weight tensor, in layer order.
function Sequential:weights()
  local out = {}
  for _, layer in ipairs(self.layers) do
    for _, w in ipairs(layer.weights or {}) do out[#out + 1] = w.value end
  end
  return out
end

--- A table of layers, output shapes and parameter counts (as Keras's summary()), printed and returned.
function Sequential:summary(input_shape)
  local shape = input_shape or self.input_shape
  if not shape then error("summary: build the model first (model:build{batch, features}) or pass an input shape", 2) end
  local lines, total = {}, 0
  local row = "%-24s %-20s %10s"
  lines[1] = row:format("Layer", "Output shape", "Params")
  lines[2] = string.rep("-", 56)
  for _, layer in ipairs(self.layers) do
    if not layer.built then layer:build(shape) layer.built = true end
    shape = layer.output_shape and layer:output_shape(shape) or shape
    local n = 0
    for _, w in ipairs(layer.weights or {}) do n = n + w.value:numel() end
    total = total + n
    local shown = {table.unpack(shape)}
    shown[1] = "None"
    lines[#lines + 1] = row:format(layer.name, "(" .. table.concat(shown, ", ") .. ")", n)
  end
  lines[#lines + 1] = string.rep("-", 56)
  lines[#lines + 1] = ("Total params: %d"):format(total)
  local text = table.concat(lines, "\n")
  print(text)
  return text
end

--- model:compile{optimizer=nn.SGD{...}, loss="sparse_categorical_crossentropy", metrics={"accuracy"}}
function Sequential:compile(opts)
  self.optimizer = opts.optimizer or nn.SGD()
  self.loss_name = opts.loss or "mse"
  self.loss = type(self.loss_name) == "function" and self.loss_name or nn.losses[self.loss_name]
  if not self.loss then error(("compile: unknown loss '%s'"):format(tostring(self.loss_name)), 2) end
  self.sparse = self.loss_name == "sparse_categorical_crossentropy"
  self.metrics = opts.metrics or {}
  self.step = nil
end

-- The targets as the graph takes them (one-hot rows for sparse labels).
function Sequential:targets(y)
  if not self.sparse then return y end
  return nn.one_hot(y, self.n_classes)
end

-- The training step: value and gradients of the loss for the model's weights, one graph per
-- batch shape.
function Sequential:train_step()
  if not self.step then
    local weights = self:weights()
    self.step = dagl.grad(function(xb, yb) return self.loss(self(xb), yb) end, {wrt = weights, argnums = {}})
    self.step_weights = weights
  end
  return self.step, self.step_weights
end

-- Rows [i, j] of a tensor (1-based, inclusive), or of a table.
local function rows(t, i, j)
  if type(t) == "table" then return table.move(t, i, j, 1, {}) end
  return t:slice(1, i, j):contiguous()
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

-- Gathers rows by index into a new tensor (or table).
local function take(t, idx)
  if type(t) == "table" then
    local out = {}
    for i, k in ipairs(idx) do out[i] = t[k] end
    return out
  end
  local out = dagl.empty({#idx, table.unpack(t.shape, 2)}, t:dtype())
  for i, k in ipairs(idx) do out[i] = t[k] end
  return out
end

--- Fraction of rows whose largest logit is the label (labels as integers 0..n-1 or one-hot rows).
function nn.accuracy(logits, y)
  local pred = logits:argmax(2):totable()
  local labels = type(y) == "table" and y or (y:dim() == 2 and y:argmax(2):totable() or y:totable())
  local good = 0
  for i, p in ipairs(pred) do
    local l = type(y) == "table" and y[i] + 1 or (y:dim() == 2 and labels[i] or labels[i] + 1)
    if p == l then good = good + 1 end
  end
  return good / #pred
end

-- A Keras-style progress line: overwritten in place on a terminal, printed once per epoch otherwise.
local function progress(epoch, epochs, done, total, logs, elapsed, tty, final)
  local width = 24
  local fill = math.floor(width * done / total)
  local parts = {}
  for _, k in ipairs {"loss", "accuracy", "val_loss", "val_accuracy"} do
    if logs[k] then parts[#parts + 1] = ("%s: %.4f"):format(k, logs[k]) end
  end
  local eta = done < total and ("ETA %.1fs"):format(elapsed / done * (total - done)) or ("%.1fs"):format(elapsed)
  local line = ("Epoch %d/%d %d/%d [%s%s] %s - %s"):format(epoch, epochs, done, total, string.rep("=", fill),
    string.rep(".", width - fill), eta, table.concat(parts, " - "))
  if tty then
    io.write("\r", line, final and "\n" or "")
    io.flush()
  elseif final then
    print(line)
  end
end

--- model:fit(x, y, {epochs=1, batch_size=32, validation_split=0, validation_data={x, y},
-- shuffle=true, verbose=true, callbacks={function(epoch, logs) ... end}}) -> history
function Sequential:fit(x, y, opts)
  opts = opts or {}
  if not self.loss then error("fit: call model:compile{...} first", 2) end
  local n = x.shape[1]
  local bs, epochs = opts.batch_size or 32, opts.epochs or 1
  if self.sparse then
    local labels = type(y) == "table" and y or y:totable()
    local maxl = 0
    for _, c in ipairs(labels) do maxl = math.max(maxl, c) end
    self.n_classes = self.n_classes or math.tointeger(maxl) + 1
  end
  local vx, vy = opts.validation_data and opts.validation_data[1], opts.validation_data and opts.validation_data[2]
  if (opts.validation_split or 0) > 0 then
    local nv = math.floor(n * opts.validation_split)
    vx, vy = rows(x, n - nv + 1, n), rows(y, n - nv + 1, n)
    x, y, n = rows(x, 1, n - nv), rows(y, 1, n - nv), n - nv
  end
  self:build(x.shape)
  local step, weights = self:train_step()
  local tty = opts.verbose ~= false and os.getenv("TERM") ~= nil and os.execute("test -t 1") == true
  local verbose = opts.verbose ~= false
  local history = {loss = {}, accuracy = {}, val_loss = {}, val_accuracy = {}}
  local nbatches = math.ceil(n / bs)
  for epoch = 1, epochs do
    local t0 = dagl.wall_time()
    local order = opts.shuffle == false and nil or shuffled_indices(n)
    local ex, ey = order and take(x, order) or x, order and take(y, order) or y
    local total, count = 0, 0
    for b = 1, nbatches do
      local i, j = (b - 1) * bs + 1, math.min(b * bs, n)
      local xb, yb = rows(ex, i, j), self:targets(rows(ey, i, j))
      local res = table.pack(step(xb, yb))
      self.optimizer.apply(weights, table.move(res, 2, res.n, 1, {}))
      total, count = total + res[1]:item() * (j - i + 1), count + (j - i + 1)
      if verbose and tty then progress(epoch, epochs, b, nbatches, {loss = total / count}, dagl.wall_time() - t0, tty, false) end
    end
    local logs = {loss = total / count}
    if #self.metrics > 0 then logs.accuracy = nn.accuracy(self:predict(x), y) end
    if vx then
      logs.val_loss, logs.val_accuracy = self:evaluate(vx, vy)
    end
    for k, v in pairs(logs) do history[k][epoch] = v end
    if verbose then progress(epoch, epochs, nbatches, nbatches, logs, dagl.wall_time() - t0, tty, true) end
    local stop = false
    for _, cb in ipairs(opts.callbacks or {}) do
      if cb(epoch, logs, self) == false then stop = true end -- a callback may stop training
    end
    if stop then
      history.stopped_epoch = epoch
      return history
    end
  end
  return history
end

--- Predictions (logits for classifiers) for all rows, in batches, through one traced graph.
function Sequential:predict(x, batch_size)
  self.forward = self.forward or dagl.fn(function(xb) return self(xb) end)
  local n, bs = x.shape[1], batch_size or 256
  if n <= bs then return self.forward(x) end
  local parts = {}
  for i = 1, n, bs do parts[#parts + 1] = self.forward(rows(x, i, math.min(i + bs - 1, n))) end
  local out = dagl.empty({n, table.unpack(parts[1].shape, 2)})
  local r = 0
  for _, p in ipairs(parts) do
    for k = 1, p.shape[1] do out[r + k] = p[k] end
    r = r + p.shape[1]
  end
  return out
end

--- Loss (and accuracy for classifiers) on the given data.
function Sequential:evaluate(x, y)
  local logits = self:predict(x)
  local loss = self.loss(logits, self:targets(y)):item()
  return loss, nn.accuracy(logits, y)
end

return nn
