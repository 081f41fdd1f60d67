-- conv1d_spec.lua -- Conv1D (valid with strides, causal and dilated) against PyTorch's conv1d
-- (golden tensors of spec/fixtures/make_rnn.py: outputs and gradients to 1e-9, float64), the 1-D
-- and global pools, ZeroPadding2D and UpSampling2D against plain Lua, and the errors.
local dagl = require "dagl"
local nn = dagl.nn

local function max_err(a, b) return (a - b):abs():max():item() end
local function close(a, b, what) assert.is_true(max_err(a, b) < 1e-9, what .. ": max error " .. max_err(a, b)) end

describe("1-D layers", function()
  for _, c in ipairs {{"conv1d_valid_s2", {strides = 2}}, {"conv1d_causal_d2", {dilation_rate = 2, padding = "causal"}}} do
    it("Conv1D matches PyTorch's conv1d (" .. c[1] .. "): output and gradients", function()
      local f = dagl.load_npz("spec/fixtures/rnn_" .. c[1] .. ".npz")
      local o = {dtype = "float64"}
      for k, v in pairs(c[2]) do o[k] = v end
      local l = nn.Conv1D(6, 3, o)
      l(f.x)
      l.kernel:copy(f.kernel)
      l.bias:copy(f.bias)
      close(l(f.x), f.out, "output")
      local g = table.pack(dagl.grad(function(x) return (l(x) * f.probe):sum() end, {wrt = {l.kernel, l.bias}})(f.x))
      close(g[2], f.dx, "d input")
      close(g[3], f.dkernel, "d kernel")
      close(g[4], f.dbias, "d bias")
      local tr = dagl.fn(function(x) return l(x) end)(f.x)
      assert.same(l(f.x):totable(), tr:totable())
    end)
  end

  it("Conv1D padding 'same' keeps the steps (strided: ceil), causal sees only the past", function()
    local x = dagl.randn({2, 7, 3}, "float64")
    assert.same({2, 7, 4}, nn.Conv1D(4, 3, {padding = "same", dtype = "float64"})(x).shape)
    assert.same({2, 4, 4}, nn.Conv1D(4, 3, {padding = "same", strides = 2, dtype = "float64"})(x).shape)
    assert.same({2, 7, 4}, nn.Conv1D(4, 2, {padding = "same", dilation_rate = 3, dtype = "float64"})(x).shape)
    local c = nn.Conv1D(2, 3, {padding = "causal", dtype = "float64"})
    local y = c(x)
    local x2 = x:clone()
    x2:narrow(2, 5, 3):fill(100) -- changing steps 5..7 leaves outputs 1..4 alone
    local y2 = c(x2)
    close(y:narrow(2, 1, 4), y2:narrow(2, 1, 4), "causal")
    assert.is_true(max_err(y:narrow(2, 5, 1), y2:narrow(2, 5, 1)) > 1)
  end)

  it("pools over steps, and the global pools", function()
    local x = dagl.tensor({{{1, 8}, {3, 2}, {5, 6}, {0, 4}, {7, 1}}}, "float64") -- (1, 5, 2)
    assert.same({{{3, 8}, {5, 6}}}, nn.MaxPool1D(2)(x):totable())
    assert.same({{{3, 16 / 3}, {4, 11 / 3}}}, nn.AveragePooling1D(3, 2)(x):totable())
    assert.same({{{3, 8}, {5, 6}, {7, 1}}}, nn.MaxPool1D(2, {padding = "same"})(x):totable())
    assert.same({{16 / 5, 21 / 5}}, nn.GlobalAveragePooling1D()(x):totable())
    assert.same({{7, 8}}, nn.GlobalMaxPooling1D()(x):totable())
    assert.same({1, 1, 2}, nn.GlobalMaxPooling1D{keepdims = true}(x).shape)
    local img = dagl.randn(2, 3, 4, 5)
    assert.same(img:max({2, 3}):totable(), nn.GlobalMaxPooling2D()(img):totable())
  end)

  it("ZeroPadding2D and UpSampling2D", function()
    local img = dagl.arange(1, 7):reshape(1, 2, 3, 1)
    local p = nn.ZeroPadding2D({{1, 0}, {2, 1}})(img)
    assert.same({1, 3, 6, 1}, p.shape)
    assert.same({{0, 0, 0, 0, 0, 0}, {0, 0, 1, 2, 3, 0}, {0, 0, 4, 5, 6, 0}}, p:reshape(3, 6):totable())
    assert.same({1, 4, 5, 1}, nn.ZeroPadding2D(1)(img).shape)
    local u = nn.UpSampling2D({2, 1})(img)
    assert.same({{1, 2, 3}, {1, 2, 3}, {4, 5, 6}, {4, 5, 6}}, u:reshape(4, 3):totable())
    -- both carry gradients (of ones: each input pixel appears size times)
    local g = select(2, dagl.grad(function(x) return nn.UpSampling2D(2)(x):sum() + nn.ZeroPadding2D(1)(x):sum() end)(img:double()))
    assert.same({{5, 5, 5}, {5, 5, 5}}, g:reshape(2, 3):totable())
  end)

  it("raises clear errors", function()
    assert_raises(function() nn.Conv1D(4, 3)(dagl.randn(2, 3)) end, "Conv1D: expects sequences of shape (batch, steps, channels), got [2, 3]")
    assert_raises(function() nn.Conv1D(4, 3, {dilation_rate = 2, strides = 2}) end, "dilation_rate > 1 with strides > 1")
    assert_raises(function() nn.Conv1D(4, 5)(dagl.randn(2, 3, 1)) end, "a window of 5 taps (dilation 1) is longer than the 3 steps")
    assert_raises(function() nn.Conv1D(4, 3, {padding = "full"}) end, "padding")
    assert_raises(function() nn.Conv1D(4, 0) end, "kernel_size")
    assert_raises(function() nn.MaxPool1D(2)(dagl.randn(2, 3, 4, 5)) end, "MaxPool1D: expects sequences")
    assert_raises(function() nn.ZeroPadding2D(-1) end, "padding")
    assert_raises(function() nn.UpSampling2D(2, {interpolation = "bilinear"}) end, "interpolation")
  end)
end)

describe("depthwise layers", function()
  it("DepthwiseConv2D (depth_multiplier 2) matches PyTorch's grouped conv2d, gradients too", function()
    local f = dagl.load_npz("spec/fixtures/rnn_depthwise_dm2.npz")
    local l = nn.DepthwiseConv2D(3, {depth_multiplier = 2, dtype = "float64"})
    l(f.x)
    l.depthwise_kernel:copy(f.dkernel_w)
    l.bias:copy(f.bias)
    close(l(f.x), f.out, "output")
    local g = select(2, dagl.grad(function(x) return (l(x) * f.probe):sum() end)(f.x))
    close(g, f.dx, "d input")
    assert.same(l(f.x):totable(), dagl.fn(function(x) return l(x) end)(f.x):totable())
  end)

  it("SeparableConv2D ('same', strides 2) matches PyTorch's depthwise + pointwise convs", function()
    local f = dagl.load_npz("spec/fixtures/rnn_separable_same_s2.npz")
    local l = nn.SeparableConv2D(4, 3, {strides = 2, padding = "same", dtype = "float64"})
    l(f.x)
    l.depthwise_kernel:copy(f.dkernel_w)
    l.pointwise_kernel:copy(f.pointwise)
    l.bias:copy(f.bias)
    close(l(f.x), f.out, "output")
    local g = select(2, dagl.grad(function(x) return (l(x) * f.probe):sum() end)(f.x))
    close(g, f.dx, "d input")
  end)

  it("has gradients for its weights and clear errors", function()
    local l = nn.DepthwiseConv2D(2, {dtype = "float64"})
    local x = dagl.randn({1, 3, 3, 2}, "float64")
    l(x)
    local w = dagl.randn({1, 2, 2, 2}, "float64")
    local fw = function(a) return (l(a) * w):sum() end
    local dk = select(3, dagl.grad(fw, {wrt = {l.depthwise_kernel}})(x))
    close(dk, numeric_grad(function() return fw(x) end, l.depthwise_kernel), "d depthwise_kernel")
    assert_raises(function() nn.DepthwiseConv2D(3)(dagl.randn(2, 3, 4)) end, "expects images of shape (batch, height, width, channels)")
    assert_raises(function() nn.DepthwiseConv2D(5)(dagl.randn(1, 3, 3, 1)) end, "window 5x5 is larger than the input 3x3")
    assert_raises(function() nn.DepthwiseConv2D(3, {dilation_rate = 2}) end, "dilation_rate")
    assert_raises(function() nn.SeparableConv2D{kernel_size = 3} end, "filters")
  end)
end)

describe("transposed convolutions", function()
  for _, c in ipairs {{"transpose_valid_s2", {strides = 2, output_padding = 1}}, {"transpose_same_s2", {strides = 2, padding = "same"}}} do
    it("conv2d_transpose and Conv2DTranspose match PyTorch's conv_transpose2d (" .. c[1] .. ")", function()
      local f = dagl.load_npz("spec/fixtures/rnn_" .. c[1] .. ".npz")
      close(f.x:conv2d_transpose(f.kernel, c[2]), f.out, "output")
      local g = table.pack(dagl.grad(function(a, k) return (dagl.conv2d_transpose(a, k, c[2]) * f.probe):sum() end)(f.x, f.kernel))
      close(g[2], f.dx, "d input")
      close(g[3], f.dkernel, "d kernel")
      local o = {dtype = "float64", use_bias = false}
      for k, v in pairs(c[2]) do o[k] = v end
      local l = nn.Conv2DTranspose(4, 3, o)
      l(f.x)
      l.kernel:copy(f.kernel)
      close(l(f.x), f.out, "layer")
      assert.same(l(f.x):totable(), dagl.fn(function(a) return l(a) end)(f.x):totable())
    end)
  end

  it("raises clear errors", function()
    local x, k = dagl.randn(1, 3, 3, 2), dagl.randn(3, 3, 4, 2)
    local opts = {strides = 2, output_padding = 1}
    x:conv2d_transpose(k, opts)
    assert.equal(1, opts.output_padding) -- the caller's table is left as it was
    assert_raises(function() x:conv2d_transpose(k, {strides = 2, output_padding = 2}) end, "output_padding (2, 2) must be below the strides (2, 2)")
    assert_raises(function() x:conv2d_transpose(k, {stride = 2}) end, "unknown option 'stride' (did you mean 'strides'?")
    assert_raises(function() x:conv2d_transpose(dagl.randn(3, 3, 4, 5)) end, "conv2d_transpose: the kernel [3, 3, 4, 5] (KH, KW, filters, C) takes 5 input channels, the images [1, 3, 3, 2] have 2")
    assert_raises(function() nn.Conv2DTranspose(4, 3, {padding = "same", output_padding = 1}) end, "output_padding goes with padding 'valid'")
  end)
end)

describe("saving", function()
  it("saves and loads models of every new layer (1-D, depthwise, transposed, attention, masking)", function()
    local function roundtrip(m, x)
      local y = m:predict(x)
      local path = os.tmpname()
      m:save(path)
      local back = nn.load_model(path)
      os.remove(path)
      assert.same(y:totable(), back:predict(x):totable())
    end
    roundtrip(nn.Sequential {
      nn.Conv1D(4, 3, {input_shape = {10, 2}, padding = "causal", dilation_rate = 2}), nn.MaxPool1D(2),
      nn.LSTM(3, {return_sequences = true}), nn.Masking(), nn.GRU(2)}, dagl.randn(2, 10, 2))
    roundtrip(nn.Sequential {
      nn.Conv2DTranspose(3, 3, {strides = 2, input_shape = {4, 4, 2}}), nn.DepthwiseConv2D(3), nn.SeparableConv2D(2, 3),
      nn.UpSampling2D(2), nn.ZeroPadding2D(1), nn.GlobalMaxPooling2D()}, dagl.randn(2, 4, 4, 2))
    local inp = nn.Input {shape = {6, 8}}
    local att = nn.MultiHeadAttention {num_heads = 2, key_dim = 4}({inp, inp})
    local out = nn.Dense(2)(nn.GlobalAveragePooling1D()(nn.LayerNormalization {axis = {2, 3}}(nn.Add()({inp, att}))))
    roundtrip(nn.Model(inp, out), dagl.randn(3, 6, 8))
  end)
end)
