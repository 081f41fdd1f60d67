--- dagl.nn.recurrent_layers: SimpleRNN, LSTM and GRU with Keras's options and weight layout
-- (kernel [features, gates x units], recurrent_kernel [units, gates x units], bias; gates in
-- Keras's order: LSTM i, f, c, o; GRU z, r, h), Bidirectional and TimeDistributed.
--
-- The input projection of every step is one GEMM before the loop; each step is one GEMM on the
-- state (all gates at once) and the gate arithmetic, which the graph fuses into a few elementwise
-- programs. Traced (fit, predict, dagl.fn), the unrolled steps are graph nodes and dagl.grad
-- gives backpropagation through time; a Bidirectional layer's two directions are independent
-- subgraphs the scheduler runs at the same time.
local dagl = require "dagl"

local nn = require "dagl.nn.base"
local fn = require "dagl.fn"
local options = require "dagl.options"

local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

-- The options every recurrent layer takes; `gates` layers (LSTM, GRU) add recurrent_activation.
local function rnn_options(name, extra)
  local own = {
    {"units", "integer", min = 1, required = true, doc = "the size of the state and of each output step"},
    {"activation", "activation", default = "tanh"},
    {"use_bias", "boolean", default = true},
    {"kernel_initializer", "initializer", default = "glorot_uniform"},
    {"recurrent_initializer", "initializer", default = "orthogonal"},
    {"bias_initializer", "initializer", default = "zeros"},
    {"dropout", "number", min = 0, below = 1, default = 0, doc = "dropout of the inputs while training (one mask for every step)"},
    {"recurrent_dropout", "number", min = 0, below = 1, default = 0, doc = "dropout of the state fed back (one mask for every step)"},
    {"return_sequences", "boolean", default = false, doc = "the output of every step (batch, steps, units), else the last"},
    {"return_state", "boolean", default = false, doc = "also return the final state(s)"},
    {"go_backwards", "boolean", default = false, doc = "run over the steps from the last (the outputs come in that order)"},
    {"seed", "integer", doc = "fixes the dropout masks"},
    {"unroll", "boolean", default = false, doc = "accepted for Keras compatibility: the steps are always unrolled in the graph"},
    {"stateful", "boolean", unsupported = "states are not kept between batches; pass initial_state instead"},
    {"time_major", "boolean", unsupported = "inputs are (batch, steps, features)"},
  }
  for _, o in ipairs(extra) do own[#own + 1] = o end
  return nn.layer_options(name, {"units"}, own, {units = 4})
end

local GATES = {SimpleRNN = 1, LSTM = 4, GRU = 3}

local base_opts = {}
for kind, extra in pairs {
  SimpleRNN = {},
  LSTM = {{"recurrent_activation", "activation", default = "sigmoid"},
          {"unit_forget_bias", "boolean", default = true, doc = "the forget gate's bias starts at 1 (Keras)"}},
  GRU = {{"recurrent_activation", "activation", default = "sigmoid"},
         {"reset_after", "boolean", default = true, doc = "the reset gate after the recurrent product (Keras's and cuDNN's default)"}},
} do base_opts[kind] = rnn_options(kind, extra) end

-- The constructors: nn.LSTM(units, {options}) or nn.LSTM{units =, ...} (Keras's forms).
for kind in pairs(GATES) do
  local class = nn.layer_class(kind:lower())
  nn[kind] = class
  class.new = function(...)
    local o = base_opts[kind]:parse(1, ...)
    local self = setmetatable({}, class)
    self:init(o)
    self.kind, self.gates = kind, GATES[kind]
    self.units = o.units
    self.activation = nn.activation(o.activation)
    self.recurrent_activation = o.recurrent_activation and nn.activation(o.recurrent_activation)
    self.use_bias = o.use_bias
    self.kernel_initializer, self.recurrent_initializer = o.kernel_initializer, o.recurrent_initializer
    self.bias_initializer = o.bias_initializer
    self.unit_forget_bias, self.reset_after = o.unit_forget_bias, o.reset_after
    self.rate, self.recurrent_rate = o.dropout, o.recurrent_dropout
    self.return_sequences, self.return_state, self.go_backwards = o.return_sequences, o.return_state, o.go_backwards
    self.seed = o.seed or math.floor(dagl.rand({1}, "float64"):item() * 2 ^ 52)
    self.eager_steps = 0
    return self
  end
end

-- Keras's weights: kernel [features, g*u], recurrent_kernel [u, g*u], bias [g*u] (GRU with
-- reset_after: [2, 3u], the input bias then the recurrent one); LSTM's forget bias starts at 1.
local function rnn_build(self, shape)
  if #shape ~= 3 then
    error(("%s: expects inputs of shape (batch, steps, features), got %s"):format(self.kind, shape_str(shape)), 0)
  end
  local g, u = self.gates, self.units
  self.kernel = self:add_weight("kernel", nn.initialize(self.kernel_initializer, {shape[3], g * u}, self.dtype))
  self.recurrent_kernel = self:add_weight("recurrent_kernel",
    nn.initialize(self.recurrent_initializer, {u, g * u}, self.dtype))
  if self.use_bias then
    local bshape = (self.kind == "GRU" and self.reset_after) and {2, g * u} or {g * u}
    local b = nn.initialize(self.bias_initializer, bshape, self.dtype)
    if self.kind == "LSTM" and self.unit_forget_bias then b:narrow(1, u + 1, u):fill(1) end
    self.bias = self:add_weight("bias", b)
  end
end

-- A dropout mask shaped like `like` (batch, 1, features) or (batch, units): one per sequence,
-- fresh at every training step (traced: the node's run count; eager: a counter of the layer's).
local function dropout_mask(self, like, rate, salt)
  if dagl.is_symbol(like) then return like:dropout_mask(rate, self.seed + salt) end
  return dagl.dropout_mask(like, rate, self.seed + salt, self.eager_steps)
end

-- The gate g (1-based) of a [batch, gates x units] pre-activation (or of a bias): a view of its columns.
local function gate(z, g, u) return z:narrow(-1, (g - 1) * u + 1, u) end

-- One step of each cell: (the input projection of the step, the states) -> the new states.
local cells = {}
function cells.SimpleRNN(self, xt, st, hU)
  local z = hU and xt + hU(st[1]) or xt
  return {self.activation(z)}
end
function cells.LSTM(self, xt, st, hU)
  local u = self.units
  local z = hU and xt + hU(st[1]) or xt
  local sig, act = self.recurrent_activation, self.activation
  local i, f, c_, o = sig(gate(z, 1, u)), sig(gate(z, 2, u)), act(gate(z, 3, u)), sig(gate(z, 4, u))
  local c = st[2] and f * st[2] + i * c_ or i * c_
  return {o * act(c), c}
end
function cells.GRU(self, xt, st, hU, rbias)
  local u, sig, act = self.units, self.recurrent_activation, self.activation
  local h = st[1]
  if self.reset_after then
    local hz = h and hU(h)
    if hz and rbias then hz = hz + rbias end
    if not hz then hz = rbias end -- no state yet: the product is zero, the bias remains
    local function part(g) return hz and gate(xt, g, u) + gate(hz, g, u) or gate(xt, g, u) end
    local z, r = sig(part(1)), sig(part(2))
    local hh = act(hz and gate(xt, 3, u) + r * gate(hz, 3, u) or gate(xt, 3, u))
    return {h and z * h + (1 - z) * hh or (1 - z) * hh}
  end
  local U = self._U
  local zr = h and gate(xt, 1, 2 * u) + h:matmul(U:narrow(2, 1, 2 * u)) or gate(xt, 1, 2 * u)
  local z, r = sig(gate(zr, 1, u)), sig(gate(zr, 2, u))
  local hh = act(h and gate(xt, 3, u) + (r * h):matmul(U:narrow(2, 2 * u + 1, u)) or gate(xt, 3, u))
  return {h and z * h + (1 - z) * hh or (1 - z) * hh}
end

local call_names = {"initial_state", "mask", "training"}
-- The call's options, checked: initial_state (a tensor or a list of them), mask (batch, steps).
local function call_options(self, o)
  o = o or {}
  if type(o) ~= "table" or dagl.is_tensor(o) or dagl.is_symbol(o) then
    error(("%s: the second argument is the call options {initial_state =, mask =}, got %s"):format(self.kind, options.show(o)), 0)
  end
  require("dagl.nn.shared").check_call_options(self.kind, o, call_names)
  return o
end

-- The layer's forward pass over x (batch, steps, features).
local function rnn_call(self, x, o)
  o = call_options(self, o)
  local s = x.shape
  if #s ~= 3 then error(("%s: expects inputs of shape (batch, steps, features), got %s"):format(self.kind, shape_str(s)), 0) end
  local B, T, u = s[1], s[2], self.units
  local nstates = self.kind == "LSTM" and 2 or 1
  local sym = dagl.is_symbol(x) and x
  local function lift(t) return sym and fn.lift(sym, t) or t end
  -- states: given (checked) or none yet (zeros, whose products are skipped)
  local st = {}
  if o.initial_state ~= nil then
    local init = o.initial_state
    if dagl.is_tensor(init) or dagl.is_symbol(init) then init = {init} end
    if #init ~= nstates then
      error(("%s: initial_state takes %d tensor(s) (%s), got %d"):format(self.kind, nstates,
        nstates == 2 and "h and c" or "h", #init), 0)
    end
    for i = 1, nstates do
      local t = init[i]
      if not fn.internal.same_shape(t.shape, {B, u}) then
        error(("%s: initial_state %d has shape %s, the state is [%d, %d]"):format(self.kind, i, shape_str(t.shape), B, u), 0)
      end
      st[i] = t
    end
  end
  local mask = o.mask
  if mask == nil then mask = nn.masks[x] end -- from nn.Masking or Embedding{mask_zero = true} before it
  if mask ~= nil and not fn.internal.same_shape(mask.shape, {B, T}) then
    error(("%s: mask has shape %s, the inputs need [%d, %d] (batch, steps)"):format(self.kind, shape_str(mask.shape), B, T), 0)
  end
  local training = nn.training and o.training ~= false
  if training and self.rate > 0 then x = x * dropout_mask(self, x:narrow(2, 1, 1), self.rate, 1) end
  local W, U = lift(self.kernel), lift(self.recurrent_kernel)
  self._U = U
  local ibias, rbias = self.bias and lift(self.bias), nil
  if ibias and self.kind == "GRU" and self.reset_after then ibias, rbias = ibias:select(1, 1), ibias:select(1, 2) end
  -- the input projection of every step: one GEMM
  local xp = x:matmul(W)
  if ibias then xp = xp + ibias end
  local rmask
  if training and self.recurrent_rate > 0 then
    rmask = dropout_mask(self, lift(dagl.zeros({B, u}, x:dtype())), self.recurrent_rate, 2)
  end
  local function hU(h)
    if rmask then h = h * rmask end
    return h:matmul(U)
  end
  local product = (self.kind == "GRU" and not self.reset_after) and nil or hU
  local outs, prev = {}, nil
  for k = 1, T do
    local t = self.go_backwards and T - k + 1 or k
    local xt = xp:select(2, t)
    local new = cells[self.kind](self, xt, st, product and st[1] and product or nil, rbias)
    if mask then
      local m = mask:select(2, t):reshape(B, 1)
      for i = 1, nstates do new[i] = st[i] and dagl.where(m, new[i], st[i]) or new[i] * m end
      prev = prev and dagl.where(m, new[1], prev) or new[1] * m
    else
      prev = new[1]
    end
    st = new
    if self.return_sequences then outs[#outs + 1] = prev end
  end
  if not sym and training then self.eager_steps = self.eager_steps + 1 end
  local y = self.return_sequences and dagl.stack(outs, 2) or prev
  if self.return_state then return y, table.unpack(st, 1, nstates) end
  return y
end

for kind in pairs(GATES) do
  nn[kind].build = rnn_build
  nn[kind].call = rnn_call
  nn[kind].output_shape = function(self, shape)
    return self.return_sequences and {shape[1], shape[2], self.units} or {shape[1], self.units}
  end
end

--- nn.Bidirectional(layer, {merge_mode = "concat", backward_layer =}): the recurrent layer and a
-- copy of it running backwards (go_backwards flipped), their outputs merged ("concat" on the
-- last dim, "sum", "mul", "ave", or nil for both); with return_sequences the backward outputs are
-- put back in time order. The two directions share nothing, so the scheduler runs them at once.
nn.Bidirectional = nn.layer_class("bidirectional")
-- Option checkers: a recurrent layer (Bidirectional), any layer (TimeDistributed).
local function rnn_layer(v)
  if type(v) == "table" and GATES[rawget(v, "kind") or ""] and getmetatable(v) == nn[v.kind] then return true end
  return false, "a SimpleRNN, LSTM or GRU layer"
end
local function any_layer(v)
  if type(v) == "table" and getmetatable(v) and type(rawget(v, "weights")) == "table" then return true end
  return false, "a layer"
end
local bidi_options = nn.layer_options("Bidirectional", {"layer"}, {
  {"layer", rnn_layer, required = true, doc = "a SimpleRNN, LSTM or GRU layer"},
  {"merge_mode", options.enum {"concat", "sum", "mul", "ave", "none"}, default = "concat",
   doc = "how the directions' outputs combine (\"none\": both, as a list)"},
  {"backward_layer", rnn_layer, doc = "the backward layer (default: a copy of layer going backwards)"},
}, function() return {layer = nn.LSTM(2)} end) -- made only when a probe asks (a layer takes a name)
function nn.Bidirectional.new(...)
  local o = bidi_options:parse(1, ...)
  local self = setmetatable({}, nn.Bidirectional)
  self:init(o)
  local f = o.layer
  local b = o.backward_layer
  if not b then
    local cfg = f:get_config()
    cfg.go_backwards = not f.go_backwards
    cfg.name = (f.name or f.kind) .. "_backward"
    b = nn[f.kind](cfg)
  end
  self.forward_layer, self.backward_layer, self.merge_mode = f, b, o.merge_mode
  self._layers = {f, b}
  return self
end
-- The layer objects of a wrapper's config written as entries (model:save), and read back.
local function copy_config(self, fields, f)
  local c = {}
  for k, v in pairs(self.config) do c[k] = v end
  for _, k in ipairs(fields) do if c[k] ~= nil then c[k] = f(c[k]) end end
  return c
end
function nn.Bidirectional:get_config()
  local c = copy_config(self, {}, nil)
  c.layer, c.backward_layer = nn.layer_entry(self.forward_layer), nn.layer_entry(self.backward_layer)
  return c
end
function nn.Bidirectional.from_config(config)
  local c = {}
  for k, v in pairs(config) do c[k] = v end
  c.layer = nn.layer_from_entry(config.layer)
  if config.backward_layer then c.backward_layer = nn.layer_from_entry(config.backward_layer) end
  return nn.Bidirectional(c)
end

function nn.Bidirectional:build(shape)
  self.forward_layer:ensure_built(shape)
  self.backward_layer:ensure_built(shape)
  for _, l in ipairs {self.forward_layer, self.backward_layer} do
    for _, w in ipairs(l.weights) do self.weights[#self.weights + 1] = w end
  end
end
function nn.Bidirectional:call(x, o)
  local f, b = self.forward_layer, self.backward_layer
  local fo = table.pack(f(x, o))
  local bo = table.pack(b(x, o))
  local yf, yb = fo[1], bo[1]
  if b.return_sequences then -- back in time order
    local steps = yb:split(1, 2)
    local rev = {}
    for i = #steps, 1, -1 do rev[#rev + 1] = steps[i] end
    yb = dagl.concat(rev, 2)
  end
  local y
  local m = self.merge_mode
  if m == "concat" then y = dagl.concat({yf, yb}, -1)
  elseif m == "sum" then y = yf + yb
  elseif m == "mul" then y = yf * yb
  elseif m == "ave" then y = (yf + yb) * 0.5
  else y = {yf, yb} end
  if f.return_state then
    local out = {y}
    for i = 2, fo.n do out[#out + 1] = fo[i] end
    for i = 2, bo.n do out[#out + 1] = bo[i] end
    return table.unpack(out)
  end
  return y
end

--- nn.TimeDistributed(layer): layer applied to every step of (batch, steps, ...): the steps folded
-- into the batch, then unfolded (Keras's TimeDistributed).
nn.TimeDistributed = nn.layer_class("time_distributed")
local td_options = nn.layer_options("TimeDistributed", {"layer"}, {
  {"layer", any_layer, required = true, doc = "the layer applied to each step"}}, function() return {layer = nn.Dense(2)} end)
function nn.TimeDistributed.new(...)
  local o = td_options:parse(1, ...)
  local self = setmetatable({}, nn.TimeDistributed)
  self:init(o)
  self.layer = o.layer
  self._layers = {o.layer}
  return self
end
local function fold(shape)
  if #shape < 3 then
    error(("TimeDistributed: expects inputs of shape (batch, steps, ...), got %s"):format(shape_str(shape)), 0)
  end
  local s = {shape[1] * shape[2]}
  for i = 3, #shape do s[#s + 1] = shape[i] end
  return s
end
function nn.TimeDistributed:get_config() return copy_config(self, {"layer"}, nn.layer_entry) end
function nn.TimeDistributed.from_config(config)
  local c = {}
  for k, v in pairs(config) do c[k] = v end
  c.layer = nn.layer_from_entry(config.layer)
  return nn.TimeDistributed(c)
end

function nn.TimeDistributed:build(shape)
  self.layer:ensure_built(fold(shape))
  for _, w in ipairs(self.layer.weights) do self.weights[#self.weights + 1] = w end
end
function nn.TimeDistributed:call(x)
  local s = x.shape
  local y = self.layer(x:reshape(fold(s)))
  local ys = y.shape
  local out = {s[1], s[2]}
  for i = 2, #ys do out[#out + 1] = ys[i] end
  return y:reshape(out)
end

--- nn.Masking(mask_value = 0): marks the steps of (batch, steps, features) whose features all equal
-- mask_value as padding (Keras's Masking): the output is the input with those steps zeroed, and it
-- carries the mask (nn.masks) to the recurrent layer after it, which skips them (the state is
-- kept, the last output repeated). Only a recurrent layer (or Bidirectional) right after it reads
-- the mask; losses and other layers do not (use the loss's ignore_class for padded targets).
nn.Masking = nn.layer_class("masking")
local masking_options = nn.layer_options("Masking", {"mask_value"}, {
  {"mask_value", "number", default = 0, doc = "the value of every feature of a padding step"}}, nil)
function nn.Masking.new(...)
  local o = masking_options:parse(1, ...)
  local self = setmetatable({}, nn.Masking)
  self:init(o)
  self.mask_value = o.mask_value
  return self
end
function nn.Masking:call(x)
  local s = x.shape
  if #s ~= 3 then
    error(("Masking: expects (batch, steps, features), got %s"):format(shape_str(s)), 0)
  end
  local keep = x:ne(self.mask_value):sum(3):gt(0):to(x:dtype()) -- (batch, steps)
  local y = x * keep:reshape(s[1], s[2], 1)
  nn.masks[y] = keep
  return y
end

return nn
