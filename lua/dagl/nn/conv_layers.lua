--- dagl.nn.conv_layers: Conv2D, MaxPool2D, AvgPool2D and GlobalAveragePooling2D over
-- channels-last images (batch, height, width, channels), as Keras shapes them.
local nn = require "dagl.nn.base"

-- A size given as n or {rows, cols}, as {rows, cols}.
local function pair(v, what, layer)
  if type(v) == "number" then return {v, v} end
  if type(v) == "table" and #v == 2 then return {v[1], v[2]} end
  error(("%s: %s must be a number or {rows, cols}, got %s"):format(layer, what, tostring(v)), 3)
end

local function check_padding(p, layer)
  p = p or "valid"
  if p ~= "valid" and p ~= "same" then error(("%s: padding must be 'valid' or 'same', got '%s'"):format(layer, tostring(p)), 3) end
  return p
end

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

--- nn.Conv2D(filters, kernel_size, {strides=1, padding="valid", activation=, use_bias=true,
-- kernel_initializer="glorot_uniform", name=}): kernel (kh, kw, in_channels, filters).
nn.Conv2D = nn.layer_class("conv2d")
function nn.Conv2D.new(filters, kernel_size, opts)
  opts = opts or {}
  local self = setmetatable({}, nn.Conv2D)
  self:init(opts)
  self.kind_name = "Conv2D"
  if math.type(filters) ~= "integer" or filters < 1 then
    error(("Conv2D: filters must be a positive integer, got %s"):format(tostring(filters)), 2)
  end
  self.filters = filters
  self.window = pair(kernel_size, "kernel_size", "Conv2D")
  self.strides = pair(opts.strides or 1, "strides", "Conv2D")
  self.padding = check_padding(opts.padding, "Conv2D")
  self:kernel_options(opts, "Conv2D")
  return self
end

function nn.Conv2D:build(shape)
  check_image(shape, "Conv2D")
  local kh, kw, cin = self.window[1], self.window[2], shape[4]
  self:add_kernel(kh * kw * cin, kh * kw * self.filters, {kh, kw, cin, self.filters}, "Conv2D")
end

function nn.Conv2D:call(x)
  self:regularize_kernel(x)
  local y = x:conv2d(self.kernel, {strides = self.strides, padding = self.padding})
  if self.bias then y = y + self.bias end
  return self.activation(y)
end

function nn.Conv2D:output_shape(shape) return window_shape(self, shape, self.filters) end

-- MaxPool2D and AvgPool2D: nn.MaxPool2D(pool_size=2, {strides=pool_size, padding="valid"}) or
-- nn.MaxPool2D{pool_size=, strides=, padding=, name=}.
local function pool_class(kind, name, method)
  local class = nn.layer_class(kind)
  function class.new(pool_size, opts)
    if type(pool_size) == "table" and #pool_size == 0 then pool_size, opts = pool_size.pool_size, pool_size end
    opts = opts or {}
    local self = setmetatable({}, class)
    self:init(opts)
    self.kind_name = name
    self.window = pair(pool_size or 2, "pool_size", name)
    self.strides = opts.strides and pair(opts.strides, "strides", name) or self.window
    self.padding = check_padding(opts.padding, name)
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
function nn.GlobalAveragePooling2D.new(opts)
  local self = setmetatable({}, nn.GlobalAveragePooling2D)
  self:init(opts)
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
