--- dagl.nn.depthwise_layers: DepthwiseConv2D and SeparableConv2D (Keras's layers and weights)
-- over images (batch, height, width, channels). A depthwise convolution is the sum over the
-- kernel's taps of a strided window of the (zero-padded) input times that tap's per-channel
-- weights: kh x kw elementwise terms the graph fuses, instead of one convolution per channel (the
-- ONNX importer's depthwise path works the same way).
local nn = require "dagl.nn.base"
local shared = require "dagl.nn.shared"
local dagl = require "dagl"
local fn = require "dagl.fn"
local options = require "dagl.options"

local shape_str, check_image = shared.shape_str, shared.check_image


-- Output size and the zeros before/after of one dim (TensorFlow's "same": the extra one after).
local function dim_plan(n, k, s, padding)
  if padding == "same" then
    local out = (n + s - 1) // s
    local total = math.max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2
  end
  if n < k then return nil end
  return (n - k) // s + 1, 0, 0
end

-- The depthwise convolution of x with kernel (kh, kw, C, dm) (a symbol when x is one): output
-- channel c * dm + m is the sum over taps of x's channel c times kernel[i][j][c][m].
local function depthwise(x, kernel, strides, padding, layer)
  local s, ks = x.shape, kernel.shape
  local kh, kw, c, dm = ks[1], ks[2], ks[3], ks[4]
  local oh, t, b = dim_plan(s[2], kh, strides[1], padding)
  local ow, l, r = dim_plan(s[3], kw, strides[2], padding)
  if not oh or not ow then
    error(("%s: window %dx%d is larger than the input %dx%d (padding 'valid')"):format(layer, kh, kw, s[2], s[3]), 0)
  end
  local xp = shared.pad_image(x, t, b, l, r)
  local acc
  for i = 1, kh do
    for j = 1, kw do
      local win = xp:slice(2, i, i + (oh - 1) * strides[1], strides[1]):slice(3, j, j + (ow - 1) * strides[2], strides[2])
      local tap = kernel:select(1, i):select(1, j) -- (C, dm)
      local term = dm == 1 and win * tap:reshape(c) or win:reshape(s[1], oh, ow, c, 1) * tap
      acc = acc and acc + term or term
    end
  end
  return dm == 1 and acc or acc:reshape(s[1], oh, ow, c * dm)
end

local PADDING = {"padding", options.enum {"valid", "same"}, default = "valid"}
local DATA_FORMAT = {"data_format", "string", default = "channels_last",
  unsupported = "images are (batch, height, width, channels) in dagl"}
local DILATION = {"dilation_rate", "size2", default = {1, 1}, unsupported = "convolutions are not dilated"}

--- nn.DepthwiseConv2D(kernel_size, strides = 1, padding = "valid", {depth_multiplier = 1,
-- activation =, use_bias =, depthwise_initializer = "glorot_uniform", ...}): Keras's layer,
-- depthwise_kernel (kh, kw, channels, depth_multiplier), bias (channels x depth_multiplier).
nn.DepthwiseConv2D = nn.layer_class("depthwise_conv2d")
local dw_options = nn.layer_options("DepthwiseConv2D", {"kernel_size", "strides", "padding"}, {
  {"kernel_size", "size2", required = true, doc = "n or {rows, cols}"},
  {"strides", "size2", default = {1, 1}, aliases = {"stride"}},
  PADDING, DATA_FORMAT, DILATION,
  {"depth_multiplier", "integer", min = 1, default = 1, doc = "output channels per input channel"},
  {"activation", "activation", default = "linear"},
  {"use_bias", "boolean", default = true},
  {"depthwise_initializer", "initializer", default = "glorot_uniform"},
  {"bias_initializer", "initializer", default = "zeros"},
}, {kernel_size = 3})
function nn.DepthwiseConv2D.new(...)
  local o = dw_options:parse(1, ...)
  local self = setmetatable({}, nn.DepthwiseConv2D)
  self:init(o)
  self.window, self.strides, self.padding, self.dm = o.kernel_size, o.strides, o.padding, o.depth_multiplier
  self.activation, self.use_bias = nn.activation(o.activation), o.use_bias
  self.depthwise_initializer, self.bias_initializer = o.depthwise_initializer, o.bias_initializer
  return self
end
function nn.DepthwiseConv2D:build(shape)
  check_image(shape, "DepthwiseConv2D")
  self.depthwise_kernel = self:add_weight("depthwise_kernel",
    nn.initialize(self.depthwise_initializer, {self.window[1], self.window[2], shape[4], self.dm}, self.dtype))
  if self.use_bias then
    self.bias = self:add_weight("bias", nn.initialize(self.bias_initializer, {shape[4] * self.dm}, self.dtype))
  end
end
function nn.DepthwiseConv2D:call(x)
  check_image(x.shape, "DepthwiseConv2D")
  local k = dagl.is_symbol(x) and fn.lift(x, self.depthwise_kernel) or self.depthwise_kernel
  local y = depthwise(x, k, self.strides, self.padding, "DepthwiseConv2D")
  if self.bias then y = y + self.bias end
  return self.activation(y)
end

--- nn.SeparableConv2D(filters, kernel_size, strides = 1, padding = "valid", {depth_multiplier = 1,
-- activation =, use_bias =, ...}): a depthwise convolution, then a 1x1 convolution to `filters`
-- channels (Keras's depthwise_kernel, pointwise_kernel (1, 1, C x dm, filters), bias (filters)).
nn.SeparableConv2D = nn.layer_class("separable_conv2d")
local sep_options = nn.layer_options("SeparableConv2D", {"filters", "kernel_size", "strides", "padding"}, {
  {"filters", "integer", min = 1, required = true},
  {"kernel_size", "size2", required = true, doc = "n or {rows, cols}"},
  {"strides", "size2", default = {1, 1}, aliases = {"stride"}},
  PADDING, DATA_FORMAT, DILATION,
  {"depth_multiplier", "integer", min = 1, default = 1},
  {"activation", "activation", default = "linear"},
  {"use_bias", "boolean", default = true},
  {"depthwise_initializer", "initializer", default = "glorot_uniform"},
  {"pointwise_initializer", "initializer", default = "glorot_uniform"},
  {"bias_initializer", "initializer", default = "zeros"},
}, {filters = 2, kernel_size = 3})
function nn.SeparableConv2D.new(...)
  local o = sep_options:parse(1, ...)
  local self = setmetatable({}, nn.SeparableConv2D)
  self:init(o)
  self.filters, self.window, self.strides, self.padding, self.dm = o.filters, o.kernel_size, o.strides, o.padding,
    o.depth_multiplier
  self.activation, self.use_bias = nn.activation(o.activation), o.use_bias
  self.inits = {o.depthwise_initializer, o.pointwise_initializer, o.bias_initializer}
  return self
end
function nn.SeparableConv2D:build(shape)
  check_image(shape, "SeparableConv2D")
  local c = shape[4]
  self.depthwise_kernel = self:add_weight("depthwise_kernel",
    nn.initialize(self.inits[1], {self.window[1], self.window[2], c, self.dm}, self.dtype))
  self.pointwise_kernel = self:add_weight("pointwise_kernel",
    nn.initialize(self.inits[2], {1, 1, c * self.dm, self.filters}, self.dtype))
  if self.use_bias then self.bias = self:add_weight("bias", nn.initialize(self.inits[3], {self.filters}, self.dtype)) end
end
function nn.SeparableConv2D:call(x)
  check_image(x.shape, "SeparableConv2D")
  local function lift(w) return dagl.is_symbol(x) and fn.lift(x, w) or w end
  local y = depthwise(x, lift(self.depthwise_kernel), self.strides, self.padding, "SeparableConv2D")
  y = y:conv2d(lift(self.pointwise_kernel))
  if self.bias then y = y + self.bias end
  return self.activation(y)
end

return nn
