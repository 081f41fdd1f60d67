--- dagl.nn.more_layers: Reshape, Dropout, BatchNormalization, Embedding and the merge layers
-- Add and Concatenate (called with a list of inputs: layer({a, b})).
local dagl = require "dagl"
local fn = require "dagl.fn"

local nn = require "dagl.nn.base"

local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

-- Tensor t as x's trace sees it: the graph constant itself (so values copied into t later, like
-- updated moving statistics, are read at every run), or t when x is a real tensor.
local function as_seen_by(x, t)
  return dagl.is_symbol(x) and fn.lift(x, t) or t
end

--- nn.Reshape(target_shape): reshapes everything but the batch dim; one entry may be -1.
nn.Reshape = nn.layer_class("reshape")
function nn.Reshape.new(target_shape, opts)
  if type(target_shape) ~= "table" then error("Reshape: target_shape must be a table of sizes", 2) end
  local self = setmetatable({}, nn.Reshape)
  self:init(opts)
  self.target_shape = target_shape
  return self
end
function nn.Reshape:call(x) return x:reshape(x.shape[1], table.unpack(self.target_shape)) end
function nn.Reshape:output_shape(shape)
  local n, known, free = 1, 1, nil
  for i = 2, #shape do n = n * shape[i] end
  local out = {shape[1]}
  for i, s in ipairs(self.target_shape) do
    if s == -1 then free = i + 1 else known = known * s end
    out[i + 1] = s
  end
  if free then out[free] = n // known end
  local m = 1
  for i = 2, #out do m = m * out[i] end
  if m ~= n then
    error(("Reshape: cannot reshape %s to target shape %s"):format(shape_str(shape), shape_str(self.target_shape)), 2)
  end
  return out
end

--- nn.Dropout(rate, {seed=}): while training, zeroes each element with probability `rate` and
-- scales the rest by 1/(1-rate), with a fresh mask at every step; the identity otherwise. The
-- masks are a pure function of (seed, step): a fixed seed replays them, at any thread count.
nn.Dropout = nn.layer_class("dropout")
function nn.Dropout.new(rate, opts)
  opts = opts or {}
  if type(rate) ~= "number" or rate < 0 or rate >= 1 then
    error(("Dropout: rate must be a number in [0, 1), got %s"):format(tostring(rate)), 2)
  end
  local self = setmetatable({}, nn.Dropout)
  self:init(opts)
  self.rate = rate
  -- without a seed, one from the context's generator (so dagl.manual_seed makes runs repeat)
  self.seed = opts.seed or math.floor(dagl.rand({1}, "float64"):item() * 2 ^ 52)
  self.eager_steps = 0
  return self
end
function nn.Dropout:call(x)
  if not nn.training or self.rate == 0 then return x end
  if dagl.is_symbol(x) then return x * x:dropout_mask(self.rate, self.seed) end
  self.eager_steps = self.eager_steps + 1 -- eager training calls: one counter per call
  return x * dagl.dropout_mask(x, self.rate, self.seed, self.eager_steps - 1)
end

--- nn.BatchNormalization{momentum=0.99, epsilon=1e-3, center=true, scale=true}: normalizes each
-- feature (the last dim) over all other dims. Training uses the batch's mean and (biased)
-- variance and asks the model (nn.add_update) to move the moving statistics towards them:
-- moving = moving * momentum + batch * (1 - momentum). Inference uses the moving statistics.
-- gamma and beta are trainable; moving_mean and moving_variance are weights with
-- trainable = false (saved with the model, skipped by optimizers).
nn.BatchNormalization = nn.layer_class("batch_normalization")
function nn.BatchNormalization.new(opts)
  opts = opts or {}
  local self = setmetatable({}, nn.BatchNormalization)
  self:init(opts)
  self.momentum = opts.momentum or 0.99
  self.epsilon = opts.epsilon or 1e-3
  self.center, self.scale = opts.center ~= false, opts.scale ~= false
  return self
end
function nn.BatchNormalization:build(shape)
  local c = shape[#shape]
  if self.scale then self.gamma = self:add_weight("gamma", dagl.ones(c)) end
  if self.center then self.beta = self:add_weight("beta", dagl.zeros(c)) end
  self.moving_mean = self:add_weight("moving_mean", dagl.zeros(c), {trainable = false})
  self.moving_variance = self:add_weight("moving_variance", dagl.ones(c), {trainable = false})
end
function nn.BatchNormalization:call(x)
  local n = #x.shape
  if n < 2 then error(("BatchNormalization: expected a batch of at least 2 dims, got shape %s"):format(shape_str(x.shape)), 3) end
  local mean, var
  if nn.training then
    local dims = {}
    for d = 1, n - 1 do dims[d] = d end
    mean, var = x:mean(dims, true), x:var(dims, true, 0)
    local c, m = x.shape[n], self.momentum
    nn.add_update(self.moving_mean, as_seen_by(x, self.moving_mean) * m + mean:reshape(c) * (1 - m))
    nn.add_update(self.moving_variance, as_seen_by(x, self.moving_variance) * m + var:reshape(c) * (1 - m))
  else
    mean, var = as_seen_by(x, self.moving_mean), as_seen_by(x, self.moving_variance)
  end
  local y = (x - mean) / (var + self.epsilon):sqrt()
  if self.gamma then y = y * self.gamma end
  if self.beta then y = y + self.beta end
  return y
end

--- nn.Embedding(input_dim, output_dim, {embeddings_regularizer=}): int64 token ids 0..input_dim-1
-- of any shape -> their rows of a (input_dim, output_dim) table, shape ids.shape .. (output_dim).
nn.Embedding = nn.layer_class("embedding")
function nn.Embedding.new(input_dim, output_dim, opts)
  opts = opts or {}
  local self = setmetatable({}, nn.Embedding)
  self:init(opts)
  self.input_dim, self.output_dim = input_dim, output_dim
  self.embeddings_regularizer = opts.embeddings_regularizer
  return self
end
function nn.Embedding:build()
  -- Keras's default: uniform in [-0.05, 0.05)
  self.embeddings = self:add_weight("embeddings", dagl.rand(self.input_dim, self.output_dim) * 0.1 - 0.05)
end
function nn.Embedding:call(ids)
  if ids:dtype() ~= "int64" then
    error(("Embedding: token ids must be int64, got %s of shape %s"):format(ids:dtype(), shape_str(ids.shape)), 3)
  end
  self:regularize(ids, self.embeddings, self.embeddings_regularizer)
  return dagl.embedding(self.embeddings, ids)
end
function nn.Embedding:output_shape(shape)
  local out = {table.unpack(shape)}
  out[#out + 1] = self.output_dim
  return out
end

-- Merge layers take a list of at least one input.
local function check_list(kind, xs)
  if type(xs) ~= "table" or dagl.is_symbol(xs) or #xs == 0 then
    error(("%s: expected a list of inputs, as layer({a, b})"):format(kind), 4)
  end
end

--- nn.Add(): the elementwise sum of its inputs (of one shape).
nn.Add = nn.layer_class("add")
function nn.Add.new(opts)
  local self = setmetatable({}, nn.Add)
  self:init(opts)
  return self
end
function nn.Add:call(xs)
  check_list("Add", xs)
  local y = xs[1]
  for i = 2, #xs do
    if shape_str(xs[i].shape) ~= shape_str(xs[1].shape) then
      error(("Add: input %d has shape %s and input 1 has shape %s"):format(i, shape_str(xs[i].shape), shape_str(xs[1].shape)), 3)
    end
    y = y + xs[i]
  end
  return y
end
function nn.Add:output_shape(shapes) return shapes[1] end

--- nn.Concatenate{axis=-1}: joins its inputs along axis (1-based, negative from the end).
nn.Concatenate = nn.layer_class("concatenate")
function nn.Concatenate.new(opts)
  opts = opts or {}
  local self = setmetatable({}, nn.Concatenate)
  self:init(opts)
  self.axis = opts.axis or -1
  return self
end
function nn.Concatenate:call(xs)
  check_list("Concatenate", xs)
  return dagl.concat(xs, self.axis)
end
function nn.Concatenate:output_shape(shapes)
  local d = fn.check_concat(shapes, self.axis, 3) + 1
  local out = {table.unpack(shapes[1])}
  for i = 2, #shapes do out[d] = out[d] + shapes[i][d] end
  return out
end
