-- conv2d, max/avg pooling and the conv layers: hand-computed values, traced graphs equal to
-- eager calls, gradients against central finite differences (float64), layers' shapes and
-- training use, and error messages.
local dagl = require "dagl"
local nn = dagl.nn

-- The 3x3 single-channel image 1..9 as (1, 3, 3, 1).
local function img3()
  return dagl.tensor{{{{1}, {2}, {3}}, {{4}, {5}, {6}}, {{7}, {8}, {9}}}}
end

-- The (H, W) plane of channel c of image n as nested tables.
local function plane(t, n, c)
  local out = {}
  for i = 1, t.shape[2] do
    out[i] = {}
    for j = 1, t.shape[3] do out[i][j] = t[n][i][j][c] end
  end
  return out
end

-- The derivative of f along direction dir of argument i, by central differences: f is linear
-- in a step along dir, so <grad_i, dir> must match it. Several random directions per argument
-- test every element of the gradient (a wrong element shows in almost every direction).
local function directional(f, args, i, dir, eps)
  local saved = args[i]
  args[i] = saved + dir * eps
  local up = f(table.unpack(args)):item()
  args[i] = saved - dir * eps
  local down = f(table.unpack(args)):item()
  args[i] = saved
  return (up - down) / (2 * eps)
end

-- dagl.grad(f) matches f's value and, for every argument, finite differences along 4 random
-- directions and at the argument's largest gradient element (a unit direction).
local function check_grad(f, ...)
  local args = {...}
  local res = {dagl.grad(f)(...)}
  assert.is_true(math.abs(res[1]:item() - f(...):item()) <= 1e-9 * (1 + math.abs(res[1]:item())))
  for i = 1, #args do
    local g = res[i + 1]
    assert.same(args[i].shape, g.shape)
    local unit = dagl.zeros(g.shape, "float64")
    unit:view(-1)[g:abs():view(-1):argmax():item()] = 1
    local dirs = {unit}
    for k = 1, 4 do dirs[k + 1] = dagl.randn(g.shape, "float64") end
    for k, dir in ipairs(dirs) do
      local want = directional(f, args, i, dir, 1e-6)
      local got = (g * dir):sum():item()
      assert.is_true(math.abs(got - want) <= 1e-6 * (1 + math.abs(want)),
                     ("argument %d, direction %d: %.10g by dagl.grad, %.10g by differences"):format(i, k, got, want))
    end
    assert.is_true(g:abs():max():item() > 0, ("argument %d: the function does not depend on it"):format(i))
  end
end

local function r(...) return dagl.randn({...}, "float64") end

describe("conv2d", function()
  setup(function() dagl.manual_seed(11) end)

  it("correlates NHWC images with (kh, kw, in, out) kernels: valid, same and strided", function()
    local x, k = img3(), dagl.ones({2, 2, 1, 1})
    assert_close(plane(x:conv2d(k), 1, 1), {{12, 16}, {24, 28}})
    -- same: the extra pad row/column goes at the bottom/right
    assert_close(plane(dagl.conv2d(x, k, {padding = "same"}), 1, 1), {{12, 16, 9}, {24, 28, 15}, {15, 17, 9}})
    -- stride 2, same: out = ceil(3/2) = 2, total pad 1, all of it at the bottom/right
    assert_close(plane(x:conv2d(k, {strides = 2, padding = "same"}), 1, 1), {{12, 9}, {15, 9}})
    local w = dagl.tensor{{{{1, 0}}, {{0, 2}}}} -- (1, 2, 1, 2): output channel 2 looks one column right
    local y = x:conv2d(w, {strides = {2, 1}})
    assert_shape(y, {1, 2, 2, 2})
    assert_close(plane(y, 1, 1), {{1, 2}, {7, 8}})
    assert_close(plane(y, 1, 2), {{4, 6}, {16, 18}})
  end)

  it("sums over input channels and keeps the batch apart", function()
    local x = dagl.tensor{{{{1, 2}}}, {{{3, -1}}}} -- (2, 1, 1, 2)
    local k = dagl.tensor{{{{1, 0, 2}, {10, 1, 0}}}} -- (1, 1, 2, 3)
    assert_close(x:conv2d(k), {{{{21, 2, 2}}}, {{{-7, -1, 6}}}})
  end)

  it("computes the same in a traced graph, float32 and float64", function()
    for _, dt in ipairs {"float32", "float64"} do
      local x, k = dagl.randn({2, 6, 5, 3}, dt), dagl.randn({3, 2, 3, 4}, dt)
      local f = dagl.fn(function(a, b) return a:conv2d(b, {strides = {2, 1}, padding = "same"}) end)
      local want = x:conv2d(k, {strides = {2, 1}, padding = "same"})
      assert_shape(want, {2, 3, 5, 4})
      assert_close(f(x, k), want:totable(), dt == "float32" and 1e-5 or 1e-12)
      assert.equal(dt, want:dtype())
    end
  end)

  it("has input and kernel gradients matching finite differences", function()
    local w = r(1, 2, 2, 3)
    check_grad(function(x, k) return (x:conv2d(k) * w):sum() end, r(1, 3, 4, 2), r(2, 3, 2, 3))
    check_grad(function(x, k) return x:conv2d(k, {padding = "same"}):tanh():sum() end, r(2, 4, 4, 2), r(3, 3, 2, 2))
    check_grad(function(x, k) return (x:conv2d(k, {strides = 2, padding = "same"}) ^ 2):sum() end,
               r(1, 5, 5, 1), r(3, 2, 1, 2))
    check_grad(function(x, k) return x:conv2d(k, {strides = {2, 3}}):sigmoid():sum() end, r(2, 7, 8, 2), r(2, 3, 2, 1))
  end)

  it("has gradients through conv2d + bias + relu + max pooling, the fused training graph's", function()
    -- one input channel: the pooling and its masked gradient recompute the convolution
    -- (graph/fuse.c); eight: the plain fused nodes
    for _, cin in ipairs {1, 8} do
      local w = r(2, 3, 3, 4)
      check_grad(function(x, k, b) return ((x:conv2d(k) + b):relu():max_pool2d(2) * w):sum() end,
                 r(2, 8, 8, cin), r(3, 3, cin, 4), r(4))
    end
  end)

  it("names the op and the shapes in its errors", function()
    local x = dagl.zeros({1, 4, 4, 3})
    assert_raises(function() return x:conv2d(dagl.zeros({3, 3, 2, 5})) end,
                  "conv2d: the kernel [3, 3, 2, 5] takes 2 input channels, the input [1, 4, 4, 3] has 3")
    assert_raises(function() return x:conv2d(dagl.zeros({5, 5, 3, 1})) end,
                  "conv2d: kernel 5x5 is larger than the input 4x4 (input shape [1, 4, 4, 3], padding 'valid')")
    assert_raises(function() return dagl.zeros({4, 4, 3}):conv2d(dagl.zeros({3, 3, 3, 1})) end,
                  "conv2d: the input must have 4 dims (batch, height, width, channels), got shape [4, 4, 3]")
    assert_raises(function() return x:conv2d(dagl.zeros({3, 3}), {}) end, "conv2d: the kernel must have 4 dims")
    assert_raises(function() return x:conv2d(dagl.zeros({1, 1, 3, 1}), {padding = "full"}) end,
                  "padding must be 'valid' or 'same', got 'full'")
    assert_raises(function() return x:conv2d(dagl.zeros({1, 1, 3, 1}), {strides = 0}) end,
                  "strides must be at least 1, got (0, 0)")
    -- a PyTorch spelling or a typo is named, with the nearest valid option
    assert_raises(function() return x:conv2d(dagl.zeros({1, 1, 3, 1}), {stride = 2}) end,
                  "conv2d: unknown option 'stride' (did you mean 'strides'? options: strides, padding)")
    assert_raises(function() return x:max_pool2d({pool_size = 2, paddin = "same"}) end,
                  "max_pool2d: unknown option 'paddin' (did you mean 'padding'? options: pool_size, strides, padding)")
    local f = dagl.fn(function(a) return a:conv2d(dagl.zeros({3, 3, 2, 5})) end)
    assert_raises(function() return f(x) end, "conv2d: the kernel [3, 3, 2, 5] takes 2 input channels")
  end)
end)

describe("pooling", function()
  setup(function() dagl.manual_seed(12) end)

  it("takes maxima and averages of windows; the average leaves the padding out", function()
    local x = dagl.arange(1, 17):reshape(1, 4, 4, 1)
    assert_close(plane(x:max_pool2d(2), 1, 1), {{6, 8}, {14, 16}})
    assert_close(plane(dagl.avg_pool2d(x, {pool_size = 2}), 1, 1), {{3.5, 5.5}, {11.5, 13.5}})
    assert_close(plane(x:max_pool2d{pool_size = 3, strides = 1}, 1, 1), {{11, 12}, {15, 16}})
    local m = img3()
    assert_close(plane(m:avg_pool2d{pool_size = 2, padding = "same"}, 1, 1), {{3, 4.5}, {7.5, 9}})
    assert_close(plane(m:max_pool2d{pool_size = 2, padding = "same"}, 1, 1), {{5, 6}, {8, 9}})
    -- 3x3 windows at stride 1, same: the corner window holds 4 inputs, the edge ones 6
    assert_close(plane(m:avg_pool2d{pool_size = 3, strides = 1, padding = "same"}, 1, 1),
                 {{3, 3.5, 4}, {4.5, 5, 5.5}, {6, 6.5, 7}})
  end)

  it("pools each channel and image separately", function()
    local x = dagl.tensor{{{{1, -1}, {2, -2}}, {{3, -3}, {4, -4}}}} -- (1, 2, 2, 2)
    assert_close(x:max_pool2d(2), {{{{4, -1}}}})
    assert_close(x:avg_pool2d(2), {{{{2.5, -2.5}}}})
  end)

  it("computes the same in a traced graph", function()
    local x = dagl.randn({2, 7, 6, 3})
    for _, name in ipairs {"max_pool2d", "avg_pool2d"} do
      local opts = {pool_size = {3, 2}, strides = {2, 1}, padding = "same"}
      local f = dagl.fn(function(a) return a[name](a, opts) end)
      assert_close(f(x), x[name](x, opts):totable(), 1e-6)
    end
  end)

  it("has gradients matching finite differences", function()
    for _, name in ipairs {"max_pool2d", "avg_pool2d"} do
      local w = r(2, 3, 3, 2)
      check_grad(function(x) return (x[name](x, 2) * w):sum() end, r(2, 6, 7, 2))
      check_grad(function(x) return x[name](x, {pool_size = 3, strides = 1, padding = "same"}):tanh():sum() end,
                 r(1, 4, 5, 3))
      check_grad(function(x) return (x[name](x, {pool_size = {2, 3}, strides = {1, 2}, padding = "same"}) ^ 2):sum() end,
                 r(2, 5, 5, 1))
    end
  end)

  it("gives a max window's gradient to its first maximum", function()
    local g = dagl.grad(function(x) return x:max_pool2d(2):sum() end)
    local _, dx = g(dagl.ones({1, 2, 2, 1}))
    assert_close(plane(dx, 1, 1), {{1, 0}, {0, 0}})
  end)

  it("names the op and the shapes in its errors", function()
    assert_raises(function() return dagl.zeros({1, 3, 3, 1}):max_pool2d(4) end,
                  "max_pool2d: pool window 4x4 is larger than the input 3x3 (input shape [1, 3, 3, 1], padding 'valid')")
    assert_raises(function() return dagl.zeros({3, 3}):avg_pool2d(2) end,
                  "avg_pool2d: the input must have 4 dims (batch, height, width, channels), got shape [3, 3]")
    assert_raises(function() return dagl.zeros({1, 3, 3, 1}, "int64"):max_pool2d(2) end,
                  "max_pool2d: the input [1, 3, 3, 1] is int64; float32 or float64 expected")
  end)
end)

describe("conv layers", function()
  setup(function() dagl.manual_seed(13) end)

  it("Conv2D makes a (kh, kw, in, filters) kernel and a bias, Keras-shaped", function()
    local conv = nn.Conv2D(4, {3, 2}, {strides = 2, padding = "same", activation = "relu"})
    local y = conv(dagl.randn({2, 7, 6, 3}))
    assert_shape(y, {2, 4, 3, 4})
    assert_shape(conv.kernel, {3, 2, 3, 4})
    assert_shape(conv.bias, {4})
    assert.same({2, 4, 3, 4}, conv:output_shape({2, 7, 6, 3}))
    assert.is_true(y:min():item() >= 0)
    local valid = nn.Conv2D(2, 3, {use_bias = false})
    assert.same({5, 2, 4, 2}, valid:output_shape({5, 4, 6, 1}))
    valid:build({5, 4, 6, 1})
    assert.equal(1, #valid.weights)
  end)

  it("pooling layers and GlobalAveragePooling2D compute what the ops do", function()
    local x = dagl.randn({2, 6, 5, 3})
    assert_close(nn.MaxPool2D(2)(x), x:max_pool2d(2):totable())
    assert_close(nn.AvgPool2D{pool_size = 3, strides = 1, padding = "same"}(x),
                 x:avg_pool2d{pool_size = 3, strides = 1, padding = "same"}:totable())
    assert.same({2, 3, 2, 3}, nn.MaxPool2D(2):output_shape({2, 6, 5, 3}))
    assert.same({2, 3, 3, 3}, nn.MaxPool2D(2, {padding = "same"}):output_shape({2, 6, 5, 3}))
    assert.same({2, 2, 4, 3}, nn.AvgPool2D({3, 2}, {strides = {2, 1}}):output_shape({2, 6, 5, 3}))
    local gap = nn.GlobalAveragePooling2D()
    assert_close(gap(x), x:mean({2, 3}):totable(), 1e-6)
    assert.same({2, 3}, gap:output_shape({2, 6, 5, 3}))
  end)

  it("summary lists output shapes and parameter counts of a CNN", function()
    local model = nn.Sequential{nn.Conv2D(8, 3, {padding = "same"}), nn.MaxPool2D(2), nn.Conv2D(4, 2),
                                nn.GlobalAveragePooling2D(), nn.Dense(3)}
    model:build{1, 8, 8, 2}
    local text
    local saved = _G.print
    _G.print = function() end
    text = model:summary()
    _G.print = saved
    assert.truthy(text:find("(None, 8, 8, 8)", 1, true))
    assert.truthy(text:find("(None, 4, 4, 8)", 1, true))
    assert.truthy(text:find("(None, 3, 3, 4)", 1, true))
    assert.truthy(text:find("(None, 4)", 1, true))
    -- 3*3*2*8+8 + 2*2*8*4+4 + 4*3+3
    assert.truthy(text:find("Total params: " .. (152 + 132 + 15), 1, true))
  end)

  it("Conv2D's weight and input gradients match finite differences", function()
    local conv = nn.Conv2D(3, 2, {strides = {1, 2}, padding = "same", activation = "tanh"})
    conv:build({2, 4, 5, 2})
    conv.built = true
    conv.kernel, conv.bias = r(2, 2, 2, 3), r(3)
    local pool, gap = nn.MaxPool2D(2), nn.GlobalAveragePooling2D()
    local f = function(x, k, b)
      conv.kernel, conv.bias = k, b
      return (gap(pool(conv(x))) ^ 2):sum()
    end
    check_grad(f, r(2, 4, 5, 2), conv.kernel, conv.bias)
  end)

  it("trains a small CNN with fit", function()
    -- two classes: a bright top half or a bright bottom half
    local n, xs, ys = 64, {}, {}
    for i = 1, n do
      local cls = i % 2
      local im = {}
      for h = 1, 6 do
        im[h] = {}
        for w = 1, 6 do im[h][w] = {((h <= 3) == (cls == 0) and 1 or 0) + 0.3 * math.sin(i * h + w)} end
      end
      xs[i], ys[i] = im, cls
    end
    local model = nn.Sequential{nn.Conv2D(4, 3, {padding = "same", activation = "relu"}), nn.MaxPool2D(2),
                                nn.Flatten(), nn.Dense(2)}
    model:compile{optimizer = nn.SGD{lr = 0.05, momentum = 0.9},
                  loss = nn.losses.SparseCategoricalCrossentropy{from_logits = true}, metrics = {"accuracy"}}
    local h = model:fit(dagl.tensor(xs), ys, {epochs = 15, batch_size = 16, verbose = false})
    assert.is_true(h.loss[#h.loss] < h.loss[1] / 4, ("loss %g -> %g"):format(h.loss[1], h.loss[#h.loss]))
    assert.is_true(h.accuracy[#h.accuracy] >= 0.95)
  end)

  it("reports bad arguments and inputs naming the layer", function()
    assert_raises(function() nn.Conv2D(0, 3) end, "Conv2D: filters must be a positive integer, got 0")
    assert_raises(function() nn.Conv2D(2, "3") end, "Conv2D: kernel_size must be a positive integer or {rows, cols}")
    assert_raises(function() nn.Conv2D(2, 3, {padding = "causal"}) end, "Conv2D: padding must be one of 'valid', 'same', got 'causal'")
    assert_raises(function() nn.Conv2D(2, 3)(dagl.zeros({4, 5})) end,
                  "Conv2D: expects images of shape (batch, height, width, channels), got [4, 5]")
    assert_raises(function() nn.MaxPool2D(3):output_shape({1, 2, 2, 1}) end,
                  "MaxPool2D: window 3x3 is larger than the input 2x2 (padding 'valid')")
  end)
end)
