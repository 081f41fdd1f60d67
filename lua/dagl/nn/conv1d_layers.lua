--- dagl.nn.conv1d_layers: Conv1D, MaxPool1D, AveragePooling1D, GlobalAveragePooling1D,
-- GlobalMaxPooling1D, GlobalMaxPooling2D, ZeroPadding2D and UpSampling2D, as Keras shapes them:
-- sequences (batch, steps, channels), images (batch, height, width, channels).
--
-- A 1-D window is the 2-D one on a (batch, 1, steps, channels) image, so Conv1D and the pools run
-- on the same tile kernels as Conv2D; a dilated Conv1D is the sum over its taps of one GEMM on
-- the input shifted by tap x dilation (views), with "causal" padding as zeros in front.
local dagl = require "dagl"
local options = require "dagl.options"
local fn = require "dagl.fn"

local nn = require "dagl.nn.base"
local shared = require "dagl.nn.shared"

local shape_str, check_image = shared.shape_str, shared.check_image

local DATA_FORMAT = {"data_format", "string", default = "channels_last",
  unsupported = "sequences are (batch, steps, channels) in dagl; permute channels-first input with x:permute(1, 3, 2)"}

local function check_seq(shape, layer)
  if #shape ~= 3 then
    error(("%s: expects sequences of shape (batch, steps, channels), got %s"):format(layer, shape_str(shape)), 0)
  end
end

-- A positive integer option (Keras also takes a 1-tuple: {3}).
local function size1(v)
  if type(v) == "table" and getmetatable(v) == nil and #v == 1 then v = v[1] end
  if math.type(v) == "integer" and v >= 1 then return true end
  return false, "a positive integer (or {n})"
end
local function one(v) return type(v) == "table" and v[1] or v end

-- Output steps of a window of k taps (dilated: span (k - 1) d + 1) with stride s; nil when a
-- "valid" window does not fit.
local function out_steps(n, k, s, d, padding)
  if padding == "same" or padding == "causal" then return (n + s - 1) // s end
  local span = (k - 1) * d + 1
  if n < span then return nil end
  return (n - span) // s + 1
end

--- nn.Conv1D(filters, kernel_size, strides, padding, {dilation_rate = 1, activation =, use_bias =,
-- ...}) or nn.Conv1D{...}: Keras's layer over (batch, steps, channels); padding "valid", "same"
-- or "causal" (zeros before the first step, so step t sees steps <= t); kernel (k, in, filters).
nn.Conv1D = nn.layer_class("conv1d")
local conv1d_options = nn.layer_options("Conv1D", {"filters", "kernel_size", "strides", "padding"}, {
  {"filters", "integer", min = 1, required = true, doc = "the output channels"},
  {"kernel_size", size1, required = true, doc = "the window's taps"},
  {"strides", size1, default = 1, aliases = {"stride"}},
  {"padding", options.enum {"valid", "same", "causal"}, default = "valid"},
  DATA_FORMAT,
  {"dilation_rate", size1, default = 1, doc = "the distance between taps"},
  {"groups", "integer", default = 1, unsupported = "grouped convolutions are not implemented"},
  table.unpack(shared.KERNEL_OPTIONS)}, {filters = 2, kernel_size = 3})
function nn.Conv1D.new(...)
  local o = conv1d_options:parse(1, ...)
  local self = setmetatable({}, nn.Conv1D)
  self:init(o)
  self.filters, self.taps, self.stride = o.filters, one(o.kernel_size), one(o.strides)
  self.padding, self.dilation = o.padding, one(o.dilation_rate)
  if self.dilation > 1 and self.stride > 1 then
    error("nn.Conv1D: dilation_rate > 1 with strides > 1 (Keras refuses it too)", 2)
  end
  self:kernel_options(o)
  return self
end
function nn.Conv1D:build(shape)
  check_seq(shape, "Conv1D")
  self:add_kernel({self.taps, shape[3], self.filters})
end

-- Zeros (batch, n, channels) joined before (`before`) or around (before, after) the steps of x.
local function pad_steps(x, before, after)
  if before == 0 and after == 0 then return x end
  local s = x.shape
  local parts = {}
  local function zeros(n)
    local z = dagl.zeros({s[1], n, s[3]}, x:dtype())
    return dagl.is_symbol(x) and fn.lift(x, z) or z
  end
  if before > 0 then parts[#parts + 1] = zeros(before) end
  parts[#parts + 1] = x
  if after > 0 then parts[#parts + 1] = zeros(after) end
  return dagl.concat(parts, 2)
end

function nn.Conv1D:call(x)
  check_seq(x.shape, "Conv1D")
  self:regularize_kernel(x)
  local k, d, s = self.taps, self.dilation, self.stride
  local n = x.shape[2]
  local span = (k - 1) * d + 1
  if self.padding == "causal" then
    x = pad_steps(x, span - 1, 0)
  elseif self.padding == "same" and d > 1 then -- TensorFlow's split: the extra zero goes after
    local total = math.max((((n + s - 1) // s) - 1) * s + span - n, 0)
    x = pad_steps(x, total // 2, total - total // 2)
  end
  local steps = out_steps(n, k, s, d, self.padding)
  if not steps then
    error(("Conv1D: a window of %d taps (dilation %d) is longer than the %d steps (padding 'valid')"):format(k, d, n), 0)
  end
  local kernel = dagl.is_symbol(x) and fn.lift(x, self.kernel) or self.kernel
  local y
  if d == 1 then -- one 2-D convolution on (batch, 1, steps, channels)
    local xs = x.shape
    local img = x:reshape(xs[1], 1, xs[2], xs[3])
    local pad = self.padding == "same" and "same" or "valid"
    y = img:conv2d(kernel:reshape(1, k, xs[3], self.filters), {strides = {1, s}, padding = pad})
    y = y:reshape(xs[1], y.shape[3], self.filters)
  else -- the taps' GEMMs on shifted views
    for t = 1, k do
      local part = x:narrow(2, (t - 1) * d + 1, steps):matmul(kernel:select(1, t))
      y = y and y + part or part
    end
  end
  if self.bias then y = y + self.bias end
  return self.activation(y)
end
function nn.Conv1D:output_shape(shape)
  check_seq(shape, "Conv1D")
  return {shape[1], out_steps(shape[2], self.taps, self.stride, self.dilation, self.padding), self.filters}
end

-- MaxPool1D and AveragePooling1D: nn.MaxPool1D(pool_size = 2, strides = pool_size, padding =
-- "valid") or {...}: the 2-D pool on (batch, 1, steps, channels).
local function pool1d_class(kind, name, method)
  local class = nn.layer_class(kind)
  local decl = nn.layer_options(name, {"pool_size", "strides", "padding"}, {
    {"pool_size", size1, default = 2},
    {"strides", size1, aliases = {"stride"}, doc = "default: pool_size"},
    {"padding", options.enum {"valid", "same"}, default = "valid"}, DATA_FORMAT})
  function class.new(...)
    local o = decl:parse(1, ...)
    local self = setmetatable({}, class)
    self:init(o)
    self.size, self.stride, self.padding = one(o.pool_size), one(o.strides or o.pool_size), o.padding
    return self
  end
  function class:call(x)
    local s = x.shape
    check_seq(s, name)
    local img = x:reshape(s[1], 1, s[2], s[3])
    local y = img[method](img, {pool_size = {1, self.size}, strides = {1, self.stride}, padding = self.padding})
    return y:reshape(s[1], y.shape[3], s[3])
  end
  return class
end
nn.MaxPool1D = pool1d_class("max_pool1d", "MaxPool1D", "max_pool2d")
nn.AveragePooling1D = pool1d_class("average_pooling1d", "AveragePooling1D", "avg_pool2d")
nn.MaxPooling1D, nn.AvgPool1D = nn.MaxPool1D, nn.AveragePooling1D

-- The global pools: the mean or max over the steps (1-D) or over height and width (2-D).
local function global_class(kind, name, dims, reduce, check)
  local class = nn.layer_class(kind)
  local decl = nn.layer_options(name, {}, {DATA_FORMAT, {"keepdims", "boolean", default = false}}, nil)
  function class.new(...)
    local o = decl:parse(1, ...)
    local self = setmetatable({}, class)
    self:init(o)
    self.keepdims = o.keepdims
    return self
  end
  function class:call(x)
    check(x.shape, name)
    return x[reduce](x, dims, self.keepdims)
  end
  return class
end
nn.GlobalAveragePooling1D = global_class("global_average_pooling1d", "GlobalAveragePooling1D", 2, "mean", check_seq)
nn.GlobalMaxPooling1D = global_class("global_max_pooling1d", "GlobalMaxPooling1D", 2, "max", check_seq)
nn.GlobalMaxPooling2D = global_class("global_max_pooling2d", "GlobalMaxPooling2D", {2, 3}, "max", check_image)
nn.GlobalAvgPool1D, nn.GlobalMaxPool1D, nn.GlobalMaxPool2D =
  nn.GlobalAveragePooling1D, nn.GlobalMaxPooling1D, nn.GlobalMaxPooling2D

-- A padding given as n, {rows, cols} or {{top, bottom}, {left, right}} (Keras's forms).
local function padding2(v)
  local function nat(n) return math.type(n) == "integer" and n >= 0 end
  if nat(v) then return true end
  if type(v) == "table" and #v == 2 then
    if nat(v[1]) and nat(v[2]) then return true end
    if type(v[1]) == "table" and type(v[2]) == "table" and nat(v[1][1]) and nat(v[1][2]) and nat(v[2][1]) and nat(v[2][2]) then
      return true
    end
  end
  return false, "n, {rows, cols} or {{top, bottom}, {left, right}} (integers >= 0)"
end

--- nn.ZeroPadding2D(padding = 1): zeros around images (batch, height, width, channels).
nn.ZeroPadding2D = nn.layer_class("zero_padding2d")
local zp_options = nn.layer_options("ZeroPadding2D", {"padding"}, {{"padding", padding2, default = 1}, DATA_FORMAT}, nil)
function nn.ZeroPadding2D.new(...)
  local o = zp_options:parse(1, ...)
  local self = setmetatable({}, nn.ZeroPadding2D)
  self:init(o)
  local p = o.padding
  if math.type(p) == "integer" then p = {{p, p}, {p, p}} elseif math.type(p[1]) == "integer" then p = {{p[1], p[1]}, {p[2], p[2]}} end
  self.pad = p
  return self
end
function nn.ZeroPadding2D:call(x)
  check_image(x.shape, "ZeroPadding2D")
  return shared.pad_image(x, self.pad[1][1], self.pad[1][2], self.pad[2][1], self.pad[2][2])
end

--- nn.UpSampling2D(size = 2, {interpolation = "nearest"}): each pixel repeated size x size times.
nn.UpSampling2D = nn.layer_class("up_sampling2d")
local up_options = nn.layer_options("UpSampling2D", {"size"}, {
  {"size", "size2", default = {2, 2}, doc = "n or {rows, cols}"},
  {"interpolation", options.enum {"nearest"}, default = "nearest", doc = "nearest (bilinear is not implemented)"},
  DATA_FORMAT}, nil)
function nn.UpSampling2D.new(...)
  local o = up_options:parse(1, ...)
  local self = setmetatable({}, nn.UpSampling2D)
  self:init(o)
  self.size = o.size
  return self
end
function nn.UpSampling2D:call(x)
  local s = x.shape
  check_image(s, "UpSampling2D")
  local a, b = self.size[1], self.size[2]
  -- (n, h, 1, w, 1, c) expanded to (n, h, a, w, b, c): a view; the reshape copies it out
  local y = x:reshape(s[1], s[2], 1, s[3], 1, s[4]):expand(s[1], s[2], a, s[3], b, s[4])
  return y:reshape(s[1], s[2] * a, s[3] * b, s[4])
end

return nn
