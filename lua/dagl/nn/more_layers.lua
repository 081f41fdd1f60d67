--- dagl.nn.more_layers: Rescaling, Reshape, Dropout, BatchNormalization, Embedding and the merge
-- layers Add and Concatenate (called with a list of inputs: layer({a, b})).
local dagl = require "dagl"
local fn = require "dagl.fn"

local options = require "dagl.options"

local nn = require "dagl.nn.base"

local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

-- Tensor t as x's trace sees it: the graph constant itself (so values copied into t later, like
-- updated moving statistics, are read at every run), or t when x is a real tensor.
local function as_seen_by(x, t)
  return dagl.is_symbol(x) and fn.lift(x, t) or t
end

--- nn.Rescaling(scale, offset=0): x * scale + offset in the layer's dtype, as Keras's Rescaling;
-- uint8 inputs are converted and scaled in one fused pass (x:float(scale)), so a model whose
-- first layer is nn.Rescaling(1/255) takes uint8 images and scales them inside its graph.
nn.Rescaling = nn.layer_class("rescaling")
nn.Rescaling.input_dtype = "uint8" -- what a model built from input_shape feeds it
nn.Rescaling.casts_itself = true   -- no autocast before call: the cast is the scaling's
local rescaling_options = nn.layer_options("Rescaling", {"scale", "offset"}, {
  {"scale", "number", required = true, doc = "the factor (1/255 maps bytes to [0, 1])"},
  {"offset", "number", default = 0, doc = "added after scaling (-1 with scale 1/127.5 maps bytes to [-1, 1])"}},
  {scale = 0.5})
function nn.Rescaling.new(...)
  local o = rescaling_options:parse(1, ...)
  local self = setmetatable({}, nn.Rescaling)
  self:init(o)
  self.scale, self.offset = o.scale, o.offset
  return self
end
function nn.Rescaling:call(x)
  local y = x:to(self.dtype, self.scale)
  if self.offset ~= 0 then y = y + self.offset end
  return y
end

--- nn.Reshape(target_shape): reshapes everything but the batch dim; one entry may be -1.
nn.Reshape = nn.layer_class("reshape")
-- A list of positive sizes, one of which may be -1.
local function target_shape(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil or #v == 0 then return false, "a list of sizes, e.g. {7, 7, 1}" end
  local free = 0
  for k, s in pairs(v) do
    if math.type(k) ~= "integer" or math.type(s) ~= "integer" or (s < 1 and s ~= -1) then
      return false, "a list of positive sizes (one may be -1)"
    end
    if s == -1 then free = free + 1 end
  end
  if free > 1 then return false, "a list of sizes with at most one -1" end
  return true, {table.unpack(v)}
end
local reshape_options = nn.layer_options("Reshape", {"target_shape"}, {
  {"target_shape", target_shape, required = true, doc = "the shape without the batch dim; one entry may be -1"}},
  {target_shape = {2}})
function nn.Reshape.new(...)
  local o = reshape_options:parse(1, ...)
  local self = setmetatable({}, nn.Reshape)
  self:init(o)
  self.target_shape = o.target_shape
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
local dropout_options = nn.layer_options("Dropout", {"rate"}, {
  {"rate", "number", min = 0, below = 1, required = true, aliases = {"p"}, doc = "the fraction of inputs zeroed while training"},
  {"seed", "integer", doc = "fixes the masks (default: drawn from the context's generator)"},
  {"noise_shape", "any", unsupported = "masks are drawn per element"}},
  {rate = 0.5})
function nn.Dropout.new(...)
  local o = dropout_options:parse(1, ...)
  local self = setmetatable({}, nn.Dropout)
  self:init(o)
  self.rate = o.rate
  -- without a seed, one from the context's generator (so dagl.manual_seed makes runs repeat)
  self.seed = o.seed or math.floor(dagl.rand({1}, "float64"):item() * 2 ^ 52)
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
-- The feature axis: -1 (the last dim) or a dim after the batch dim, 1-based as every dim in dagl.
local function feature_axis(v)
  if math.type(v) ~= "integer" or v == 0 then return false, "a dim (1-based; -1 the last)" end
  if v == 1 then
    return false, "a dim after the batch dim", "dagl counts dims from 1 and dim 1 is the batch; Keras's axis=1 is dagl's axis = 2"
  end
  return true
end
local batch_norm_options = nn.layer_options("BatchNormalization", {}, {
  {"axis", feature_axis, default = -1, doc = "the feature dim (1-based; -1 the last); statistics are over every other dim"},
  {"momentum", "number", min = 0, max = 1, default = 0.99,
   doc = "Keras's meaning: moving = moving * momentum + batch * (1 - momentum) (PyTorch's momentum=0.1 is Keras's 0.9)"},
  {"epsilon", "number", min = 0, default = 1e-3, aliases = {"eps"}},
  {"center", "boolean", default = true}, {"scale", "boolean", default = true}},
  nil)
function nn.BatchNormalization.new(...)
  local o = batch_norm_options:parse(1, ...)
  local self = setmetatable({}, nn.BatchNormalization)
  self:init(o)
  self.axis, self.momentum, self.epsilon = o.axis, o.momentum, o.epsilon
  self.center, self.scale = o.center, o.scale
  return self
end

-- The 1-based feature dim of an n-dim input; raises when the input has no such dim.
local function axis_of(self, n)
  local a = self.axis < 0 and self.axis + n + 1 or self.axis
  if a < 2 or a > n then
    error(("BatchNormalization: axis %d is not a feature dim of an input with %d dims"):format(self.axis, n), 4)
  end
  return a
end

function nn.BatchNormalization:build(shape)
  local c = shape[axis_of(self, #shape)]
  if self.scale then self.gamma = self:add_weight("gamma", dagl.ones(c)) end
  if self.center then self.beta = self:add_weight("beta", dagl.zeros(c)) end
  self.moving_mean = self:add_weight("moving_mean", dagl.zeros(c), {trainable = false})
  self.moving_variance = self:add_weight("moving_variance", dagl.ones(c), {trainable = false})
end
function nn.BatchNormalization:call(x)
  local n = #x.shape
  if n < 2 then error(("BatchNormalization: expected a batch of at least 2 dims, got shape %s"):format(shape_str(x.shape)), 3) end
  local a = axis_of(self, n)
  local c = x.shape[a]
  -- per-feature vectors broadcast along dim a: shape (1, ..., c, ..., 1) unless a is the last
  local bshape = {}
  for d = 1, n do bshape[d] = d == a and c or 1 end
  local function along(v) return a == n and v or v:reshape(bshape) end
  local mean, var
  if nn.training then
    local dims = {}
    for d = 1, n do if d ~= a then dims[#dims + 1] = d end end
    mean, var = x:mean(dims, true), x:var(dims, true, 0)
    local m = self.momentum
    nn.add_update(self.moving_mean, as_seen_by(x, self.moving_mean) * m + mean:reshape(c) * (1 - m))
    nn.add_update(self.moving_variance, as_seen_by(x, self.moving_variance) * m + var:reshape(c) * (1 - m))
  else
    mean, var = along(as_seen_by(x, self.moving_mean)), along(as_seen_by(x, self.moving_variance))
  end
  local y = (x - mean) / (var + self.epsilon):sqrt()
  if self.gamma then y = y * along(as_seen_by(x, self.gamma)) end
  if self.beta then y = y + along(as_seen_by(x, self.beta)) end
  return y
end

--- nn.Embedding(input_dim, output_dim, {embeddings_regularizer=}): int64 token ids 0..input_dim-1
-- of any shape -> their rows of a (input_dim, output_dim) table, shape ids.shape .. (output_dim).
nn.Embedding = nn.layer_class("embedding")
nn.Embedding.input_dtype = "int64" -- what a model built from input_shape feeds it
local embedding_options = nn.layer_options("Embedding", {"input_dim", "output_dim"}, {
  {"input_dim", "integer", min = 1, required = true, doc = "the number of token ids (ids are 0 .. input_dim - 1)"},
  {"output_dim", "integer", min = 1, required = true, doc = "the width of each id's row"},
  {"embeddings_initializer", "initializer", default = "random_uniform"},
  {"embeddings_regularizer", "regularizer"},
  {"mask_zero", "boolean", default = false,
   doc = "id 0 is padding: the output carries a mask of the other ids, which recurrent layers after it use"}},
  {input_dim = 4, output_dim = 2})
function nn.Embedding.new(...)
  local o = embedding_options:parse(1, ...)
  local self = setmetatable({}, nn.Embedding)
  self:init(o)
  self.input_dim, self.output_dim = o.input_dim, o.output_dim
  self.embeddings_initializer = o.embeddings_initializer
  self.embeddings_regularizer = o.embeddings_regularizer and nn.regularizer(o.embeddings_regularizer)
  self.mask_zero = o.mask_zero
  return self
end
function nn.Embedding:build()
  -- Keras's default: uniform in [-0.05, 0.05)
  self.embeddings = self:add_weight("embeddings",
    nn.initialize(self.embeddings_initializer, {self.input_dim, self.output_dim}, self.dtype))
end
function nn.Embedding:call(ids)
  if ids:dtype() ~= "int64" then
    error(("Embedding: token ids must be int64, got %s of shape %s"):format(ids:dtype(), shape_str(ids.shape)), 3)
  end
  self:regularize(ids, self.embeddings, self.embeddings_regularizer)
  local y = dagl.embedding(self.embeddings, ids)
  if self.mask_zero then nn.masks[y] = ids:ne(0):to(y:dtype()) end -- (batch, steps) for the RNN after it
  return y
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
local add_options = nn.layer_options("Add", {}, {}, nil)
function nn.Add.new(...)
  local self = setmetatable({}, nn.Add)
  self:init(add_options:parse(1, ...))
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
local concatenate_options = nn.layer_options("Concatenate", {"axis"}, {
  {"axis", feature_axis, default = -1, doc = "the dim joined (1-based; -1 the last; not the batch dim)"}},
  nil)
function nn.Concatenate.new(...)
  local o = concatenate_options:parse(1, ...)
  local self = setmetatable({}, nn.Concatenate)
  self:init(o)
  self.axis = o.axis
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
