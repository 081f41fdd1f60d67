--- dagl.nn.attention_layers: MultiHeadAttention (Keras's layer, its weight layout and call form).
-- The heads are one batched product (einsum over (batch, heads)), so they run at the same time
-- on the scheduler's workers; the softmax is dagl's fused, max-shifted one (accurate on long rows).
local dagl = require "dagl"

local nn = require "dagl.nn.base"
local shared = require "dagl.nn.shared"
local fn = require "dagl.fn"

local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

--- nn.MultiHeadAttention{num_heads =, key_dim =, value_dim = key_dim, dropout = 0, use_bias = true,
-- output_shape = the query's features, kernel_initializer = "glorot_uniform", bias_initializer =
-- "zeros"} (or nn.MultiHeadAttention(num_heads, key_dim, {...})): Keras's layer. Called as
-- mha(query, value), mha(query, value, key) or with options last: mha(query, value, {key =,
-- attention_mask =, use_causal_mask = true, return_attention_scores = true}); inputs are
-- (batch, sequence, features). attention_mask (batch, T, S) has 1 where a query may attend.
nn.MultiHeadAttention = nn.layer_class("multi_head_attention")
local mha_options = nn.layer_options("MultiHeadAttention", {"num_heads", "key_dim"}, {
  {"num_heads", "integer", min = 1, required = true, doc = "the number of attention heads"},
  {"key_dim", "integer", min = 1, required = true, doc = "the size of each head for query and key"},
  {"value_dim", "integer", min = 1, doc = "the size of each head for value (default key_dim)"},
  {"dropout", "number", min = 0, below = 1, default = 0, doc = "dropout on the attention probabilities while training"},
  {"use_bias", "boolean", default = true},
  {"output_shape", "integer", min = 1, doc = "the output's features (default: the query's)"},
  {"attention_axes", "table", unsupported = "attention runs over the sequence axis (axis 2) only"},
  {"kernel_initializer", "initializer", default = "glorot_uniform"},
  {"bias_initializer", "initializer", default = "zeros"},
}, {num_heads = 2, key_dim = 4})
function nn.MultiHeadAttention.new(...)
  local o = mha_options:parse(1, ...)
  local self = setmetatable({}, nn.MultiHeadAttention)
  self:init(o)
  self.num_heads, self.key_dim = o.num_heads, o.key_dim
  self.value_dim = o.value_dim or o.key_dim
  self.use_bias, self.out_features = o.use_bias, o.output_shape
  self.kernel_initializer, self.bias_initializer = o.kernel_initializer, o.bias_initializer
  self.rate = o.dropout
  if o.dropout > 0 then self._dropout = nn.Dropout(o.dropout, {name = self.name .. "_dropout"}) end
  return self
end

-- A (batch, sequence, features) shape, or an error naming the input.
local function check_seq(which, s)
  if #s ~= 3 then
    error(("MultiHeadAttention: %s must be (batch, sequence, features), got shape %s"):format(which, shape_str(s)), 0)
  end
end

--- Builds from the shapes {query, value, key}: Keras's kernels (features, heads, head size) for
-- query, key and value, and (heads, value size, output features) for the output.
function nn.MultiHeadAttention:build(shapes)
  local q, v, k = shapes[1], shapes[2], shapes[3] or shapes[2]
  check_seq("the query", q)
  check_seq("the value", v)
  check_seq("the key", k)
  local h, kd, vd = self.num_heads, self.key_dim, self.value_dim
  local out = self.out_features or q[3]
  local function proj(name, din, size)
    local w = self:add_weight(name .. "_kernel", nn.initialize(self.kernel_initializer, {din, h, size}, self.dtype))
    local b = self.use_bias and self:add_weight(name .. "_bias", nn.initialize(self.bias_initializer, {h, size}, self.dtype))
    return w, b
  end
  self.query_kernel, self.query_bias = proj("query", q[3], kd)
  self.key_kernel, self.key_bias = proj("key", k[3], kd)
  self.value_kernel, self.value_bias = proj("value", v[3], vd)
  self.output_kernel = self:add_weight("attention_output_kernel", nn.initialize(self.kernel_initializer, {h, vd, out}, self.dtype))
  if self.use_bias then
    self.output_bias = self:add_weight("attention_output_bias", nn.initialize(self.bias_initializer, {out}, self.dtype))
  end
end

local call_names = {"key", "attention_mask", "use_causal_mask", "return_attention_scores", "training"}

-- The call's arguments as (query, value, key, options): positional key, or options last, or one
-- list {query, value, key} (the functional API's form).
local function call_args(q, v, k, o)
  if type(q) == "table" and not dagl.is_symbol(q) and not dagl.is_tensor(q) then q, v, k = q[1], q[2], q[3] end
  if type(k) == "table" and not dagl.is_symbol(k) and not dagl.is_tensor(k) then k, o = nil, k end
  o = o or {}
  shared.check_call_options("MultiHeadAttention", o, call_names)
  if v == nil then error("MultiHeadAttention: takes (query, value, key?, {options}): the value is missing", 0) end
  return q, v, k or o.key or v, o
end

--- Runs the layer: Layer.__call with the query, after building from all three shapes.
function nn.MultiHeadAttention.__call(self, q, v, k, o)
  if nn.keras_input(q) then -- functional API: the inputs as one list of Keras tensors
    local list = (type(q) == "table" and getmetatable(q) == nil) and q or {q, v, k}
    return nn.keras_call(self, list)
  end
  local ok, qq, vv, kk, oo = pcall(call_args, q, v, k, o)
  if not ok then fn.internal.user_error(qq) end
  if not self.built then
    local built, err = pcall(self.ensure_built, self, {qq.shape, vv.shape, kk.shape})
    if not built then fn.internal.user_error(err) end
  end
  return nn.Layer.__call(self, qq, vv, kk, oo)
end

-- (b, t, d) x (d, h, k) + (h, k) -> (b, t, h, k): one projection of every head at once.
local function project(x, w, b)
  local y = dagl.einsum("btd,dhk->bthk", x, w)
  if b then y = y + b end
  return y
end

function nn.MultiHeadAttention:call(q, v, k, o)
  local qs, vs, ks = q.shape, v.shape, k.shape
  check_seq("the query", qs)
  check_seq("the value", vs)
  check_seq("the key", ks)
  if qs[1] ~= vs[1] or vs[1] ~= ks[1] then
    error(("MultiHeadAttention: the batch sizes differ (query %s, value %s, key %s)"):format(shape_str(qs), shape_str(vs), shape_str(ks)), 0)
  end
  if vs[2] ~= ks[2] then
    error(("MultiHeadAttention: the value %s and the key %s must have the same sequence length"):format(shape_str(vs), shape_str(ks)), 0)
  end
  local Q = project(q, self.query_kernel, self.query_bias) * (1 / math.sqrt(self.key_dim))
  local K = project(k, self.key_kernel, self.key_bias)
  local V = project(v, self.value_kernel, self.value_bias)
  local scores = dagl.einsum("bthk,bshk->bhts", Q, K)
  local mask = o.attention_mask
  if o.use_causal_mask then
    local causal = dagl.ones(qs[2], ks[2]):tril()
    mask = mask and mask * causal or causal
  end
  if mask then
    local ms = mask.shape
    if #ms == 3 then mask = mask:reshape(ms[1], 1, ms[2], ms[3]) end -- one mask for every head
    -- Keras's masked softmax: a large negative score where the mask is 0
    scores = dagl.where(mask, scores, -1e9)
  end
  local probs = scores:softmax(-1)
  local dropped = self._dropout and self._dropout(probs) or probs
  local out = dagl.einsum("bhts,bshv->bthv", dropped, V)
  local y = dagl.einsum("bthv,hvo->bto", out, self.output_kernel)
  if self.output_bias then y = y + self.output_bias end
  if o.return_attention_scores then return y, probs end
  return y
end

function nn.MultiHeadAttention:output_shape(shapes)
  local q = shapes[1]
  return {q[1], q[2], self.out_features or q[3]}
end

return nn
