--- dagl.nn.conv_layers: Conv2D, Conv2DTranspose, MaxPool2D, AvgPool2D and GlobalAveragePooling2D over
-- channels-last images (batch, height, width, channels), as Keras shapes them.
local dagl = require "dagl"
local options = require "dagl.options"

local nn = require "dagl.nn.base"
local shared = require "dagl.nn.shared"

-- The options of every window layer: strides, padding and the data format.
local PADDING = {"padding", options.enum {"valid", "same"}, default = "valid"}
local DATA_FORMAT = {"data_format", "string", default = "channels_last",
  unsupported = "images are (batch, height, width, channels) in dagl; permute channels-first input with x:permute(1, 3, 4, 2)"}

local function check_image(shape, layer)
  if #shape ~= 4 then
    error(("%s: expects images of shape (batch, height, width, channels), got [%s]"):format(layer, table.concat(shape, ", ")), 3)
  end
end

-- Output size of one spatial dim (TensorFlow's rules), nil when a 'valid' window does not fit.
local function out_dim(n, k, s, padding)
  if padding == "same" then return (n + s - 1) // s end
  if n < k then return nil end
  return (n - k) // s + 1
end

-- The (batch, OH, OW, channels) shape of a window layer on `shape`.
local function window_shape(self, shape, channels)
  check_image(shape, self.kind_name)
  local oh = out_dim(shape[2], self.window[1], self.strides[1], self.padding)
  local ow = out_dim(shape[3], self.window[2], self.strides[2], self.padding)
  if not oh or not ow then
    error(("%s: window %dx%d is larger than the input %dx%d (padding 'valid')"):format(
      self.kind_name, self.window[1], self.window[2], shape[2], shape[3]), 3)
  end
  return {shape[1], oh, ow, channels or shape[4]}
end

--- nn.Conv2D(filters, kernel_size, strides, padding, {activation=, use_bias=true,
-- kernel_initializer="glorot_uniform", name=, ...}) or nn.Conv2D{filters =, kernel_size =, ...}
-- (Keras's forms): kernel (kh, kw, in_channels, filters).
nn.Conv2D = nn.layer_class("conv2d")
local conv_options = nn.layer_options("Conv2D", {"filters", "kernel_size", "strides", "padding"}, {
  {"filters", "integer", min = 1, required = true, doc = "the output channels"},
  {"kernel_size", "size2", required = true, doc = "n or {rows, cols}"},
  {"strides", "size2", default = {1, 1}, aliases = {"stride"}, doc = "n or {rows, cols}"},
  PADDING, DATA_FORMAT,
  {"dilation_rate", "size2", default = {1, 1}, unsupported = "convolutions are not dilated"},
  {"groups", "integer", default = 1, unsupported = "grouped convolutions are not implemented"},
  table.unpack(shared.KERNEL_OPTIONS)}, {filters = 2, kernel_size = 3})
function nn.Conv2D.new(...)
  local o = conv_options:parse(1, ...)
  local self = setmetatable({}, nn.Conv2D)
  self:init(o)
  self.kind_name = "Conv2D"
  self.filters, self.window, self.strides, self.padding = o.filters, o.kernel_size, o.strides, o.padding
  self:kernel_options(o)
  return self
end

function nn.Conv2D:build(shape)
  check_image(shape, "Conv2D")
  self:add_kernel({self.window[1], self.window[2], shape[4], self.filters})
end

function nn.Conv2D:call(x)
  self:regularize_kernel(x)
  local y = x:conv2d(self.kernel, {strides = self.strides, padding = self.padding})
  if self.bias then y = y + self.bias end
  return self.activation(y)
end

function nn.Conv2D:output_shape(shape) return window_shape(self, shape, self.filters) end

--- nn.Conv2DTranspose(filters, kernel_size, strides, padding, {output_padding =, activation =, ...}):
-- Keras's transposed convolution (the gradient of Conv2D with respect to its input, as an op):
-- kernel (kh, kw, filters, in_channels); the output is (H - 1) s + kh (+ output_padding) high for
-- "valid", H s for "same" (TensorFlow's crop).
nn.Conv2DTranspose = nn.layer_class("conv2d_transpose")
local output_padding = function(v)
  if v == nil or math.type(v) == "integer" or (type(v) == "table" and #v == 2 and math.type(v[1]) == "integer"
    and math.type(v[2]) == "integer") then return true end
  return false, "n or {rows, cols}"
end
local convt_options = nn.layer_options("Conv2DTranspose", {"filters", "kernel_size", "strides", "padding"}, {
  {"filters", "integer", min = 1, required = true, doc = "the output channels"},
  {"kernel_size", "size2", required = true, doc = "n or {rows, cols}"},
  {"strides", "size2", default = {1, 1}, aliases = {"stride"}, doc = "n or {rows, cols}"},
  PADDING, DATA_FORMAT,
  {"output_padding", output_padding, doc = "extra rows/cols at the end (below the strides; 'valid' only)"},
  {"dilation_rate", "size2", default = {1, 1}, unsupported = "convolutions are not dilated"},
  table.unpack(shared.KERNEL_OPTIONS)}, {filters = 2, kernel_size = 3})
function nn.Conv2DTranspose.new(...)
  local o = convt_options:parse(1, ...)
  local self = setmetatable({}, nn.Conv2DTranspose)
  self:init(o)
  self.kind_name = "Conv2DTranspose"
  self.filters, self.window, self.strides, self.padding = o.filters, o.kernel_size, o.strides, o.padding
  self.output_padding = o.output_padding
  if self.output_padding and self.padding == "same" then
    error("nn.Conv2DTranspose: output_padding goes with padding 'valid' (with 'same' the output is H x strides)", 2)
  end
  self:kernel_options(o)
  return self
end
function nn.Conv2DTranspose:build(shape)
  check_image(shape, "Conv2DTranspose")
  self.kernel = self:add_weight("kernel", nn.initialize(self.kernel_initializer,
    {self.window[1], self.window[2], self.filters, shape[4]}, self.dtype))
  if self.use_bias then
    self.bias = self:add_weight("bias", nn.initialize(self.bias_initializer, {self.filters}, self.dtype))
  end
end
function nn.Conv2DTranspose:call(x)
  check_image(x.shape, "Conv2DTranspose")
  self:regularize_kernel(x)
  local y = dagl.conv2d_transpose(x, self.kernel, {strides = self.strides, padding = self.padding,
                                                   output_padding = self.output_padding})
  if self.bias then y = y + self.bias end
  return self.activation(y)
end

-- MaxPool2D and AvgPool2D: nn.MaxPool2D(pool_size=2, strides=pool_size, padding="valid") or
-- nn.MaxPool2D{pool_size=, strides=, padding=, name=} (Keras's forms).
local function pool_class(kind, name, method)
  local class = nn.layer_class(kind)
  local decl = nn.layer_options(name, {"pool_size", "strides", "padding"}, {
    {"pool_size", "size2", default = {2, 2}, doc = "n or {rows, cols}"},
    {"strides", "size2", aliases = {"stride"}, doc = "n or {rows, cols} (default: pool_size)"},
    PADDING, DATA_FORMAT})
  function class.new(...)
    local o = decl:parse(1, ...)
    local self = setmetatable({}, class)
    self:init(o)
    self.kind_name = name
    self.window, self.strides, self.padding = o.pool_size, o.strides or o.pool_size, o.padding
    return self
  end
  function class:call(x)
    return x[method](x, {pool_size = self.window, strides = self.strides, padding = self.padding})
  end
  function class:output_shape(shape) return window_shape(self, shape) end
  return class
end
nn.MaxPool2D = pool_class("max_pool2d", "MaxPool2D", "max_pool2d")
nn.AvgPool2D = pool_class("avg_pool2d", "AvgPool2D", "avg_pool2d")
nn.MaxPooling2D, nn.AveragePooling2D = nn.MaxPool2D, nn.AvgPool2D

--- nn.GlobalAveragePooling2D(): the mean over height and width, (batch, channels).
nn.GlobalAveragePooling2D = nn.layer_class("global_average_pooling2d")
local gap_options = nn.layer_options("GlobalAveragePooling2D", {}, {DATA_FORMAT,
  {"keepdims", "boolean", default = false, unsupported = "the output is (batch, channels)"}},
  nil)
function nn.GlobalAveragePooling2D.new(...)
  local self = setmetatable({}, nn.GlobalAveragePooling2D)
  self:init(gap_options:parse(1, ...))
  return self
end
function nn.GlobalAveragePooling2D:build(shape) check_image(shape, "GlobalAveragePooling2D") end
function nn.GlobalAveragePooling2D:call(x)
  check_image(x.shape, "GlobalAveragePooling2D")
  return x:mean({2, 3})
end
function nn.GlobalAveragePooling2D:output_shape(shape)
  check_image(shape, "GlobalAveragePooling2D")
  return {shape[1], shape[4]}
end
