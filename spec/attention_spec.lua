-- attention_spec.lua -- nn.MultiHeadAttention: Keras's weight layout and call form, against the
-- attention written head by head with plain ops; masks (given and causal), gradients, the
-- functional API, training, and the errors.
local dagl = require "dagl"
local nn = dagl.nn

-- Attention head by head with matmuls, from the layer's weights (Keras's layout).
local function reference(l, q, v, k, mask)
  local h, kd = l.num_heads, l.key_dim
  local outs = {}
  for b = 1, q.shape[1] do
    local acc
    for i = 1, h do
      local function proj(x, w, bias) return x[b]:matmul(w:select(2, i)) + bias:select(1, i) end
      local Q, K, V = proj(q, l.query_kernel, l.query_bias), proj(k, l.key_kernel, l.key_bias), proj(v, l.value_kernel, l.value_bias)
      local s = Q:matmul(K:t()) / math.sqrt(kd)
      if mask then s = dagl.where(mask[b], s, -1e9) end
      local o = s:softmax(-1):matmul(V):matmul(l.output_kernel:select(1, i))
      acc = acc and acc + o or o
    end
    outs[b] = acc + l.output_bias
  end
  return dagl.stack(outs)
end

local function max_err(a, b) return (a - b):abs():max():item() end

describe("nn.MultiHeadAttention", function()
  it("matches attention computed head by head, with Keras's weight shapes", function()
    local mha = nn.MultiHeadAttention(3, 4, {value_dim = 5, output_shape = 7, dtype = "float64"})
    local q, v, k = dagl.randn({2, 5, 6}, "float64"), dagl.randn({2, 4, 8}, "float64"), dagl.randn({2, 4, 9}, "float64")
    local y, scores = mha(q, v, k, {return_attention_scores = true})
    assert.same({2, 5, 7}, y.shape)
    assert.same({2, 3, 5, 4}, scores.shape)
    assert.same({6, 3, 4}, mha.query_kernel.shape)
    assert.same({9, 3, 4}, mha.key_kernel.shape)
    assert.same({8, 3, 5}, mha.value_kernel.shape)
    assert.same({3, 5, 7}, mha.output_kernel.shape)
    assert.same({7}, mha.output_bias.shape)
    assert.is_true(max_err(y, reference(mha, q, v, k)) < 1e-12)
    assert.is_true(max_err(scores:sum(-1), dagl.ones({2, 3, 5}, "float64")) < 1e-12)
    -- key defaults to value; traced gives the same bits
    local m2 = nn.MultiHeadAttention(3, 4, {dtype = "float64"})
    local y2 = m2(q, v, {key = v})
    local y3 = dagl.fn(function(a, b) return m2(a, b) end)(q, v)
    assert.same(y2:totable(), y3:totable())
    assert.is_true(max_err(y2, reference(m2, q, v, v)) < 1e-12)
  end)

  it("masks: attention_mask (batch, T, S) and the causal mask", function()
    local mha = nn.MultiHeadAttention{num_heads = 2, key_dim = 3, dtype = "float64"}
    local x = dagl.randn({2, 4, 6}, "float64")
    local _, s = mha(x, x, {use_causal_mask = true, return_attention_scores = true})
    for t = 1, 4 do
      for u = t + 1, 4 do assert.equal(0, s[1][1][t][u]) end
    end
    local causal = dagl.ones(4, 4, "float64"):tril():reshape(1, 4, 4):expand(2, 4, 4)
    assert.is_true(max_err(mha(x, x, {use_causal_mask = true}), reference(mha, x, x, x, causal)) < 1e-12)
    local m = dagl.tensor({{{1, 1, 0, 0}, {1, 1, 1, 0}, {1, 0, 0, 0}, {1, 1, 1, 1}},
                           {{0, 1, 1, 1}, {1, 1, 1, 1}, {0, 0, 1, 0}, {1, 0, 1, 0}}}, "float64")
    local ym, sm = mha(x, x, {attention_mask = m, return_attention_scores = true})
    assert.equal(0, sm[1][2][1][3])
    assert.is_true(max_err(ym, reference(mha, x, x, x, m)) < 1e-12)
    -- both: the causal mask and the given one together
    local both = mha(x, x, {attention_mask = m, use_causal_mask = true})
    assert.is_true(max_err(both, reference(mha, x, x, x, m * causal)) < 1e-12)
  end)

  it("has gradients that match finite differences (inputs and weights)", function()
    local mha = nn.MultiHeadAttention{num_heads = 2, key_dim = 2, dtype = "float64"}
    local q, v = dagl.randn({1, 3, 4}, "float64"), dagl.randn({1, 2, 4}, "float64")
    mha(q, v) -- build
    local f = function(a, b) return mha(a, b, {use_causal_mask = false}):tanh():sum() end
    local res = {dagl.grad(f, {wrt = {mha.query_kernel, mha.output_kernel}})(q, v)}
    local args = {q, v}
    for i = 1, 2 do
      local want = numeric_grad(function() return f(table.unpack(args)) end, args[i])
      assert.is_true(max_err(res[i + 1], want) < 1e-6, "input " .. i)
    end
    local wq = numeric_grad(function() return f(q, v) end, mha.query_kernel)
    assert.is_true(max_err(res[4], wq) < 1e-6, "query kernel")
  end)

  it("trains in a functional model (a small transformer block) and fits a toy task", function()
    local inp = nn.Input{shape = {6, 8}}
    local att = nn.MultiHeadAttention{num_heads = 2, key_dim = 4}({inp, inp})
    local h = nn.LayerNormalization()(nn.Add()({inp, att}))
    local out = nn.Dense(2, "softmax")(nn.Flatten()(h))
    local model = nn.Model(inp, out)
    model:compile{optimizer = nn.Adam{learning_rate = 0.01}, loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
    -- the label: whether the first step's first feature is positive
    local x = dagl.randn(256, 6, 8)
    local y = x:select(2, 1):select(2, 1):gt(0):to("int64")
    local hist = model:fit(x, y, {epochs = 15, batch_size = 32, verbose = 0})
    local acc = hist.accuracy
    assert.is_true(acc[#acc] > 0.9, "accuracy " .. acc[#acc])
  end)

  it("LayerNormalization normalizes over any dims, with Keras's weight shapes and gradients", function()
    local x = dagl.randn({4, 3, 5}, "float64")
    local ln = nn.LayerNormalization{axis = {2, 3}, epsilon = 0, dtype = "float64"}
    local y = ln(x)
    assert.same({3, 5}, ln.gamma.shape)
    assert.is_true(y:mean({2, 3}):abs():max():item() < 1e-12)
    assert.is_true(max_err(y:var({2, 3}, false, 0), dagl.ones({4}, "float64")) < 1e-12)
    local ln2 = nn.LayerNormalization{axis = 2, dtype = "float64"}
    ln2(x)
    assert.same({3}, ln2.gamma.shape)
    ln2.gamma:copy(dagl.tensor({0.5, 2, -1}, "float64"))
    ln2.beta:copy(dagl.tensor({1, 0, 3}, "float64"))
    local w = dagl.randn({4, 3, 5}, "float64")
    local f = function(a) return (ln2(a) * w):sum() end
    local _, dx, dg, db = dagl.grad(f, {wrt = {ln2.gamma, ln2.beta}})(x)
    assert.is_true(max_err(dx, numeric_grad(function() return f(x) end, x)) < 1e-6)
    assert.is_true(max_err(dg, numeric_grad(function() return f(x) end, ln2.gamma)) < 1e-6)
    assert.is_true(max_err(db, numeric_grad(function() return f(x) end, ln2.beta)) < 1e-6)
    -- the default (the last dim) keeps its old weights: [d]
    local ln3 = nn.LayerNormalization()
    ln3(dagl.randn(2, 3, 5))
    assert.same({5}, ln3.gamma.shape)
    assert_raises(function() nn.LayerNormalization{axis = 1} end, "dim 1 is the batch")
    assert_raises(function() nn.LayerNormalization{axis = {2, 2}}(x) end, "dim 2 is given twice")
    assert_raises(function() nn.LayerNormalization{axis = -4}(x) end, "axis -4 is out of range for inputs of shape [4, 3, 5]")
  end)

  it("raises clear errors for wrong shapes, options and call forms", function()
    local mha = nn.MultiHeadAttention{num_heads = 2, key_dim = 4}
    local q = dagl.randn(2, 5, 8)
    assert_raises(function() nn.MultiHeadAttention{num_heads = 2} end, "key_dim")
    assert_raises(function() nn.MultiHeadAttention{num_heads = 2, key_dim = 4, num_head = 3} end, "did you mean 'num_heads'")
    assert_raises(function() nn.MultiHeadAttention{num_heads = 2, key_dim = 4, attention_axes = {2}} end, "attention_axes")
    assert_raises(function() mha(q) end, "the value is missing")
    assert_raises(function() mha(q, q, {atention_mask = q}) end, "unknown call option 'atention_mask' (did you mean 'attention_mask'?")
    assert_raises(function() mha(dagl.randn(2, 8), q) end, "the query must be (batch, sequence, features), got shape [2, 8]")
    assert_raises(function() mha(q, dagl.randn(3, 5, 8)) end, "the batch sizes differ")
    assert_raises(function() mha(q, q, dagl.randn(2, 4, 8)) end, "the value [2, 5, 8] and the key [2, 4, 8] must have the same sequence length")
  end)
end)
