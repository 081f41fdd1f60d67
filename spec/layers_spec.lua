-- Joins, indexing, dropout, erf and the layers built on them (Reshape, Dropout,
-- BatchNormalization, Embedding, Add, Concatenate, gelu, regularizers): hand-computed values,
-- finite-difference gradients in float64, dropout statistics and reproducibility, the training
-- protocol (nn.collect) and error messages.
local dagl = require "dagl"
local nn = dagl.nn

local numeric_grad = numeric_grad -- spec/helper.lua

local function check_close(got, want, what)
  assert.same(want.shape, got.shape)
  local err = (got - want):abs():max():item()
  local scale = want:abs():max():item()
  assert.is_true(err <= 1e-5 * (1 + scale), ("%s: max error %g (scale %g)"):format(what, err, scale))
end

-- dagl.grad(f, {wrt = ws}) against finite differences for each argument and each wrt tensor.
local function check(f, args, ws)
  ws = ws or {}
  local res = {dagl.grad(f, {wrt = ws})(table.unpack(args))}
  local eager = f(table.unpack(args)):item()
  assert.is_true(math.abs(res[1]:item() - eager) <= 1e-9 * (1 + math.abs(eager)), "value differs from eager")
  local all = {table.unpack(args)}
  for _, w in ipairs(ws) do all[#all + 1] = w end
  for i, x in ipairs(all) do
    check_close(res[i + 1], numeric_grad(function() return f(table.unpack(args)) end, x), "input " .. i)
  end
end

local function r(...) return dagl.randn({...}, "float64") end
local function long(t) return dagl.tensor(t):long() end

describe("concat, slice and narrow", function()
  setup(function() dagl.manual_seed(7) end)

  it("join along any dim, eagerly and in graphs", function()
    local a, b = dagl.tensor{{1, 2}, {3, 4}}, dagl.tensor{{5}, {6}}
    assert_close(dagl.concat({a, b}, 2), {{1, 2, 5}, {3, 4, 6}})
    assert_close(dagl.concat({a, b:t()}), {{1, 2}, {3, 4}, {5, 6}})
    assert_close(dagl.concat({a, b}, -1), {{1, 2, 5}, {3, 4, 6}})
    local f = dagl.fn(function(x, y) return dagl.concat({x, y}, 2), dagl.concat({y, x, 0 * y}, -1) end)
    local p, q = f(a, b)
    assert_close(p, {{1, 2, 5}, {3, 4, 6}})
    assert_close(q, {{5, 1, 2, 0}, {6, 3, 4, 0}})
  end)

  it("joins more than 8 operands in a graph (chained nodes)", function()
    local xs, want = {}, {}
    for i = 1, 11 do xs[i] = dagl.tensor{i} want[i] = i end
    local f = dagl.fn(function(x) local l = {} for i = 1, 11 do l[i] = x * i end return dagl.concat(l) end)
    assert_close(f(dagl.tensor{1}), want)
    assert_close(dagl.concat(xs), want)
  end)

  it("slices and narrows in graphs like on real tensors", function()
    local x = dagl.arange(0, 12):reshape(3, 4)
    local f = dagl.fn(function(t) return t:slice(2, 2, -1, 2), t:narrow(1, 2, 2), t:slice(1, -1) end)
    local s, n, l = f(x)
    assert_close(s, x:slice(2, 2, -1, 2):totable())
    assert_close(s, {{1, 3}, {5, 7}, {9, 11}})
    assert_close(n, {{4, 5, 6, 7}, {8, 9, 10, 11}})
    assert_close(l, {{8, 9, 10, 11}})
  end)

  it("match finite differences", function()
    local w = r(5, 3)
    check(function(a, b) return (dagl.concat({a, b}, 1) * w):sum() end, {r(2, 3), r(3, 3)})
    check(function(a, b) return (dagl.concat({b, a, b}, 2) ^ 2):sum() end, {r(2, 1), r(2, 2)})
    check(function(a) return (a:slice(2, 1, -1, 2) * a:narrow(1, 1, 3):slice(2, 2, 3)):sum() end, {r(3, 4)})
  end)

  it("name the shapes and the dim when shapes do not fit", function()
    local a, b = dagl.ones(2, 3), dagl.ones(2, 4)
    assert_raises(function() dagl.concat({a, b}, 1) end, "[2, 4]", "[2, 3]", "dimension 1")
    assert_raises(function() dagl.concat({a, b}, 3) end, "dimension 3", "[2, 3]")
    local f = dagl.fn(function(x, y) return dagl.concat({x, y}) end)
    assert_raises(function() f(a, b) end, "[2, 4]", "[2, 3]", "dimension 1")
    assert_raises(function() dagl.concat({a, 3}) end, "element 2")
    assert_raises(function() dagl.fn(function(x) return x:narrow(1, 2, 5) end)(a) end, "narrow", "out of range")
  end)
end)

describe("gather (embedding, index_select)", function()
  local tbl = dagl.tensor{{1, 2}, {3, 4}, {5, 6}}

  it("picks rows for indices of any shape", function()
    local e = dagl.embedding(tbl, long{{2, 0}, {1, 1}})
    assert_shape(e, {2, 2, 2})
    assert_close(e, {{{5, 6}, {1, 2}}, {{3, 4}, {3, 4}}})
    assert_close(tbl:index_select(1, long{3, 1}), {{5, 6}, {1, 2}}) -- 1-based, like Torch7
    local f = dagl.fn(function(ids) return dagl.embedding(tbl, ids), tbl:index_select(1, ids + 1) end)
    local g1, g2 = f(long{0, 2, 2})
    assert_close(g1, {{1, 2}, {5, 6}, {5, 6}})
    assert_close(g2, {{1, 2}, {5, 6}, {5, 6}})
  end)

  it("index_select picks along any dimension, eagerly and traced, with 1-D indices", function()
    local t = dagl.arange(24):reshape(2, 3, 4)
    local want = {{{2, 0, 2}, {6, 4, 6}, {10, 8, 10}}, {{14, 12, 14}, {18, 16, 18}, {22, 20, 22}}}
    local got = t:index_select(3, long{3, 1, 3})
    assert_shape(got, {2, 3, 3})
    assert_close(got, want)
    assert.is_true(got:is_contiguous())
    assert_close(t:index_select(-2, long{3}), {{{8, 9, 10, 11}}, {{20, 21, 22, 23}}})
    local f = dagl.fn(function(x, ids) return x:index_select(3, ids), t:index_select(3, ids) end)
    local a, b = f(t, long{3, 1, 3})
    assert_close(a, want)
    assert_close(b, want)
    assert_raises(function() t:index_select(2, long{{1}}) end, "index_select", "dimension 2", "1-D", "[1, 1]")
    assert_raises(function() t:index_select(2, long{4}) end, "index 4", "3 rows")
    assert_raises(function() t:index_select(4, long{1}) end, "dimension 4")
  end)

  it("index_add sums rows into a zero table", function()
    assert_close(dagl.index_add(dagl.tensor{{1, 1}, {2, 2}, {4, 4}}, long{2, 0, 2}, 4), {{2, 2}, {0, 0}, {5, 5}, {0, 0}})
  end)

  it("matches finite differences, repeated rows included", function()
    local w = r(2, 3, 4)
    local ids = long{{1, 3, 1}, {0, 1, 1}}
    check(function(t) return (dagl.embedding(t, ids) * w):sum() end, {r(4, 4)})
    check(function(t) return (t:index_select(1, ids + 1) ^ 2):sum() end, {r(4, 4)})
    local w2 = r(3, 3)
    check(function(t) return (t:index_select(2, long{4, 1, 4}) ^ 2 * w2):sum() end, {r(3, 4)})
  end)

  it("names a bad index and the table size", function()
    assert_raises(function() dagl.embedding(tbl, long{0, 3}) end, "index 3", "3 rows")
    assert_raises(function() tbl:index_select(1, long{0}) end, "index 0", "3 rows", "1..3")
    assert_raises(function() dagl.embedding(tbl, dagl.tensor{0}) end, "int64")
    local f = dagl.fn(function(ids) return dagl.embedding(tbl, ids) end)
    assert_close(f(long{1}), {{3, 4}})
    assert_raises(function() f(long{-1}) end, "index -1", "3 rows")
  end)
end)

describe("dropout masks", function()
  it("keep about 1 - rate of the elements, scaled by 1/(1-rate)", function()
    local m = dagl.dropout_mask(dagl.zeros(100000), 0.3, 5, 0)
    local kept = m:gt(0):sum():item()
    assert.is_true(math.abs(kept / 100000 - 0.7) < 0.01, "kept fraction " .. kept / 100000)
    assert_close(m:max(), 1 / 0.7)
    assert.equal(0, m:min():item())
  end)

  it("differ between runs of a graph and replay with the same seed", function()
    local x = dagl.ones(64, "float64")
    local f = dagl.fn(function(t) return t * t:dropout_mask(0.5, 11) end)
    local m1, m2 = f(x), f(x)
    assert.is_true(m1:ne(m2):sum():item() > 0)
    assert_close(m1, dagl.dropout_mask(x, 0.5, 11, 0):totable())
    assert_close(m2, dagl.dropout_mask(x, 0.5, 11, 1):totable())
    local g = dagl.fn(function(t) return t * t:dropout_mask(0.5, 11) end) -- a new graph: same sequence
    assert_close(g(x), m1:totable(), 0)
    assert_close(g(x), m2:totable(), 0)
    local h = dagl.fn(function(t) return t * t:dropout_mask(0.5, 12) end)
    assert.is_true(h(x):ne(m1):sum():item() > 0)
  end)

  it("are the same at 1 and 2 threads", function()
    local saved = dagl.num_threads()
    local masks = {}
    for k = 1, 2 do
      dagl.set_threads(k)
      local f = dagl.fn(function(t) return t:dropout_mask(0.4, 3) end)
      masks[k] = f(dagl.zeros(300000))
    end
    dagl.set_threads(saved)
    assert.equal(0, masks[1]:ne(masks[2]):sum():item())
  end)

  it("pass gradients through the mask of their run only", function()
    local x = r(40)
    local vg = dagl.grad(function(t) return (t * t:dropout_mask(0.5, 21)):sum() end)
    local _, g1 = vg(x)
    local _, g2 = vg(x)
    assert_close(g1, dagl.dropout_mask(x, 0.5, 21, 0):totable())
    assert_close(g2, dagl.dropout_mask(x, 0.5, 21, 1):totable())
    -- with a fixed mask (a constant), finite differences agree
    local mask = dagl.dropout_mask(x, 0.3, 4, 0)
    check(function(t) return ((t * mask) ^ 2):sum() end, {x})
  end)
end)

describe("erf and gelu", function()
  it("match known values", function()
    assert_close(dagl.tensor({0, 0.5, 1, -2}, "float64"):erf(), {0, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527}, 1e-12)
    assert_close(dagl.fn(function(t) return t:erf() end)(dagl.tensor{1}), {0.84270079}, 1e-6)
    local gelu, gelu_tanh = nn.activations.gelu, nn.activations.gelu_tanh
    -- x * Phi(x): Phi(1) = 0.8413447460685429
    assert_close(gelu(dagl.tensor({1, -1, 0}, "float64")), {0.8413447460685429, -0.1586552539314571, 0}, 1e-12)
    assert_close(gelu_tanh(dagl.tensor({1}, "float64")), {0.8411919906082768}, 1e-12)
    assert_close(nn.Activation("gelu")(dagl.tensor{2}), {2 * 0.9772498680518208}, 1e-6)
  end)

  it("match finite differences", function()
    check(function(t) return (t:erf() * t):sum() end, {r(6)})
    check(function(t) return nn.activations.gelu(t):sum() end, {r(6)})
  end)
end)

describe("nn.Reshape, nn.Add, nn.Concatenate, nn.Embedding", function()
  it("Reshape keeps the batch dim", function()
    local l = nn.Reshape{2, -1}
    local y = l(dagl.arange(0, 12):reshape(2, 6))
    assert_close(y, {{{0, 1, 2}, {3, 4, 5}}, {{6, 7, 8}, {9, 10, 11}}})
    assert.same({5, 2, 3}, l:output_shape{5, 6})
    assert_raises(function() nn.Reshape{4}:output_shape{5, 6} end, "[5, 6]", "[4]")
  end)

  it("merge layers take a list of inputs, eagerly and traced", function()
    local a, b = dagl.tensor{{1, 2}}, dagl.tensor{{10, 20}}
    assert_close(nn.Add()({a, b, a}), {{12, 24}})
    local cat = nn.Concatenate()
    assert_close(cat({a, b}), {{1, 2, 10, 20}})
    assert.same({4, 5}, cat:output_shape{{4, 2}, {4, 3}})
    local f = dagl.fn(function(x, y) return nn.Concatenate{axis = 2}({x, y}), nn.Add()({x, y}) end)
    local c, s = f(a, b)
    assert_close(c, {{1, 2, 10, 20}})
    assert_close(s, {{11, 22}})
    assert_raises(function() nn.Add()({a, dagl.ones(2, 2)}) end, "[2, 2]", "[1, 2]")
    assert_raises(function() nn.Concatenate{axis = 2}({a, dagl.ones(2, 3)}) end, "[2, 3]", "[1, 2]", "dimension 2")
    assert_raises(function() nn.Concatenate{axis = 1} end, "Concatenate: axis must be a dim after the batch dim", "Keras's axis=1 is dagl's axis = 2")
  end)

  it("Embedding maps int64 ids to rows of its table", function()
    local e = nn.Embedding(5, 3)
    local ids = long{{4, 0}, {2, 2}}
    local y = e(ids)
    assert_shape(y, {2, 2, 3})
    assert_close(y[1][1], e.embeddings[5]:totable())
    assert_close(y[2][2], e.embeddings[3]:totable())
    assert.same({2, 2, 3}, e:output_shape{2, 2})
    assert.is_true(e.embeddings:abs():max():item() <= 0.05)
    assert_raises(function() e(dagl.tensor{1}) end, "Embedding", "int64")
    assert_raises(function() e(long{5}) end, "index 5", "5 rows")
  end)
end)

describe("nn.Dropout", function()
  it("is the identity unless training, and masks while training", function()
    local x = dagl.ones(4, 50)
    local d = nn.Dropout(0.5, {seed = 3})
    assert_close(d(x), x:totable())
    local f = dagl.fn(function(t) return d(t) end)
    assert_close(f(x), x:totable()) -- traced outside training
    local ft = dagl.fn(function(t) local _, _, y = nn.collect(true, function() return d(t) end) return y end)
    local y1, y2 = ft(x), ft(x)
    assert_close(y1, dagl.dropout_mask(x, 0.5, 3, 0):totable())
    assert.is_true(y1:ne(y2):sum():item() > 0)
    assert_raises(function() nn.Dropout(1) end, "rate")
  end)
end)

describe("nn.BatchNormalization", function()
  local x = dagl.tensor({{1, 10}, {3, 20}, {8, 60}}, "float64")
  -- per column: mean (4, 30), biased variance (26/3, 1400/3)
  local mean, var = {4, 30}, {26 / 3, 1400 / 3}

  -- The train step as a model traces it: collect the updates, return their values as outputs.
  local function train_step(bn)
    local updates
    local f = dagl.fn(function(t)
      local u, _, y = nn.collect(true, function() return bn(t) end)
      updates = u
      local outs = {y}
      for _, e in ipairs(u) do outs[#outs + 1] = e.value end
      return table.unpack(outs)
    end)
    return f, function() return updates end
  end

  it("normalizes with batch statistics and produces moving-average updates", function()
    local bn = nn.BatchNormalization{momentum = 0.9, epsilon = 1e-3}
    local f, updates = train_step(bn)
    local y, new_mean, new_var = f(x)
    local u = updates()
    assert.equal(2, #u)
    assert.equal(bn.moving_mean, u[1].target)
    assert.equal(bn.moving_variance, u[2].target)
    -- (the moving statistics are float32, as in Keras)
    assert_close(new_mean, {0.1 * mean[1], 0.1 * mean[2]}, 1e-6)
    assert_close(new_var, {0.9 + 0.1 * var[1], 0.9 + 0.1 * var[2]}, 1e-6)
    local want = {}
    for i = 1, 3 do
      want[i] = {}
      for j = 1, 2 do want[i][j] = (x[i][j] - mean[j]) / math.sqrt(var[j] + 1e-3) end
    end
    assert_close(y, want, 1e-12)
    -- the weights: gamma and beta trainable, the moving statistics not
    local kinds = {}
    for _, w in ipairs(bn.weights) do kinds[w.name:match("/(.*)")] = w.trainable end
    assert.same({gamma = true, beta = true, moving_mean = false, moving_variance = false}, kinds)
  end)

  it("uses the moving statistics at inference, read at every run", function()
    local bn = nn.BatchNormalization{epsilon = 0}
    bn:build{3, 2}
    bn.built = true
    local f = dagl.fn(function(t) return bn(t) end)
    assert_close(f(x), x:totable(), 1e-12) -- mean 0, variance 1
    bn.moving_mean:copy(dagl.tensor{1, 10})
    bn.moving_variance:copy(dagl.tensor{4, 100})
    assert_close(f(x), {{0, 0}, {1, 1}, {3.5, 5}}, 1e-6)
    local u = nn.collect(false, function() return bn(x) end)
    assert.equal(0, #u)
  end)

  it("matches finite differences in its training form", function()
    local bn = nn.BatchNormalization()
    bn:build{4, 3}
    bn.built = true
    bn.gamma:copy(dagl.tensor{1.5, -0.5, 2})
    bn.beta:copy(dagl.tensor{0.1, 0.2, 0.3})
    local gamma, beta = bn.gamma:double(), bn.beta:double()
    bn.gamma, bn.beta = gamma, beta
    bn.moving_mean, bn.moving_variance = bn.moving_mean:double(), bn.moving_variance:double()
    local w = r(4, 3)
    local prev = nn.training
    nn.training = true
    local ok, err = pcall(check, function(t) return (bn(t) * w):sum() end, {r(4, 3)}, {gamma, beta})
    nn.training = prev
    assert.is_true(ok, tostring(err))
  end)
end)

describe("regularizers", function()
  it("add l2 * sum(w^2) to the loss while training only", function()
    local d = nn.Dense(2, {kernel_regularizer = nn.regularizers.l2(0.01)})
    d:build{1, 3}
    d.built = true
    d.kernel:copy(dagl.tensor{{1, 2}, {3, 4}, {5, 6}})
    local losses
    local f = dagl.fn(function(t)
      local _, l, y = nn.collect(true, function() return d(t) end)
      losses = l
      return y, l[1]
    end)
    local _, reg = f(dagl.ones(1, 3))
    assert.equal(1, #losses)
    assert_close(reg, 0.01 * 91, 1e-6)
    local _, l2 = nn.collect(false, function() return dagl.fn(function(t) return d(t) end)(dagl.ones(1, 3)) end)
    assert.equal(0, #l2)
    -- its gradient reaches the kernel: d/dw of 0.01 * sum(w^2) = 0.02 w
    local vg = dagl.grad(function(t) local _, l = nn.collect(true, function() return d(t) end) return l[1] end,
      {wrt = {d.kernel}, argnums = {}})
    local _, gw = vg(dagl.ones(1, 3))
    assert_close(gw, {{0.02, 0.04}, {0.06, 0.08}, {0.1, 0.12}}, 1e-6)
  end)
end)
