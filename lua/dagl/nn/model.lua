--- dagl.nn.model: the Sequential model, fit/evaluate/predict and the progress line.
local dagl = require "dagl"

local nn = require "dagl.nn.base"
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
