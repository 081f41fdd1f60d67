-- recurrent_spec.lua -- SimpleRNN, LSTM, GRU, Bidirectional and TimeDistributed: outputs, final
-- states and gradients against PyTorch's (golden tensors of spec/fixtures/make_rnn.py, with the
-- weight mapping written there) to 1e-9 in float64; eager = traced; 1 and 2 threads bitwise;
-- masks, initial states, go_backwards, dropout, and the errors.
local dagl = require "dagl"
local nn = dagl.nn

local function fixture(name) return dagl.load_npz("spec/fixtures/rnn_" .. name .. ".npz") end
local function max_err(a, b) return (a - b):abs():max():item() end
local function close(a, b, what) assert.is_true(max_err(a, b) < 1e-9, what .. ": max error " .. max_err(a, b)) end

-- A float64 layer of `kind` with the fixture's weights (direction d).
local function with_weights(layer, f, d)
  layer(f.x) -- build
  layer.kernel:copy(f["kernel" .. d])
  layer.recurrent_kernel:copy(f["recurrent_kernel" .. d])
  layer.bias:copy(f["bias" .. d])
  return layer
end

describe("recurrent layers", function()
  for _, c in ipairs {{"simple", "SimpleRNN"}, {"lstm", "LSTM"}, {"gru", "GRU"}} do
    it(c[2] .. " matches PyTorch: every step, the final state, and the gradients", function()
      local f = fixture(c[1])
      local l = with_weights(nn[c[2]](6, {return_sequences = true, return_state = true, dtype = "float64"}), f, 0)
      local res = table.pack(l(f.x))
      close(res[1], f.out, "outputs")
      close(res[2], f.h:select(1, 1), "h")
      if f.c then close(res[3], f.c:select(1, 1), "c") end
      local function loss(x)
        local r = table.pack(l(x))
        local v = (r[1] * f.probe):sum() + (r[2] * 0.5):sum()
        if r[3] then v = v + (r[3] * 0.25):sum() end
        return v
      end
      local g = table.pack(dagl.grad(loss, {wrt = {l.kernel, l.recurrent_kernel, l.bias}})(f.x))
      close(g[2], f.dx, "d input")
      close(g[3], f.dkernel0, "d kernel")
      close(g[4], f.drecurrent_kernel0, "d recurrent_kernel")
      close(g[5], f.dbias0, "d bias")
      -- traced forward: the same bits as eager
      local tr = table.pack(dagl.fn(function(x) return l(x) end)(f.x))
      assert.same(res[1]:totable(), tr[1]:totable())
    end)
  end

  it("Bidirectional LSTM matches PyTorch's bidirectional LSTM", function()
    local f = fixture("bilstm")
    local fwd = nn.LSTM(6, {return_sequences = true, return_state = true, dtype = "float64"})
    local b = nn.Bidirectional(fwd)
    b(f.x)
    for d, l in ipairs {b.forward_layer, b.backward_layer} do
      l.kernel:copy(f["kernel" .. (d - 1)])
      l.recurrent_kernel:copy(f["recurrent_kernel" .. (d - 1)])
      l.bias:copy(f["bias" .. (d - 1)])
    end
    local y, hf, cf, hb, cb = b(f.x)
    close(y, f.out, "outputs (concat)")
    close(hf, f.h:select(1, 1), "forward h")
    close(hb, f.h:select(1, 2), "backward h")
    close(cf, f.c:select(1, 1), "forward c")
    close(cb, f.c:select(1, 2), "backward c")
    local function loss(x)
      local yy, h1, c1, h2, c2 = b(x)
      return (yy * f.probe):sum() + ((h1 + h2) * 0.5):sum() + ((c1 + c2) * 0.25):sum()
    end
    local bl = b.backward_layer
    local g = table.pack(dagl.grad(loss, {wrt = {bl.kernel, bl.recurrent_kernel}})(f.x))
    close(g[2], f.dx, "d input")
    close(g[3], f.dkernel1, "d backward kernel")
    close(g[4], f.drecurrent_kernel1, "d backward recurrent_kernel")
  end)

  it("gives bitwise the same results and gradients on 1 and 2 threads (LSTM, GRU, attention, Conv1D)", function()
    local x = dagl.randn(4, 9, 6)
    local layers = {nn.LSTM(8, {return_sequences = true}), nn.GRU(8), nn.MultiHeadAttention(2, 4), nn.Conv1D(5, 3, {padding = "causal"})}
    for _, l in ipairs(layers) do
      local vg = dagl.grad(function(a) return (l(a, l.kind == "multi_head_attention" and a or nil) ^ 2):sum() end)
      local inter = dagl.num_threads()
      dagl.set_threads(1)
      local v1, g1 = vg(x)
      dagl.set_threads(2)
      local v2, g2 = vg(x)
      dagl.set_threads(inter)
      assert.equal(v1:item(), v2:item(), l.name)
      assert.same(g1:totable(), g2:totable(), l.name)
    end
  end)

  it("runs the two directions of a Bidirectional layer bitwise alike on 1 and 2 threads", function()
    local x = dagl.randn(4, 12, 8)
    local b = nn.Bidirectional(nn.GRU(16, {return_sequences = true}), {merge_mode = "sum"})
    local f = dagl.fn(function(a) return b(a) end)
    local inter = dagl.num_threads()
    dagl.set_threads(1)
    local one = f(x)
    dagl.set_threads(2)
    local two = f(x)
    dagl.set_threads(inter)
    assert.same(one:totable(), two:totable())
  end)

  it("masks padded steps (states carried, outputs held), starts from initial_state, goes backwards", function()
    local x = dagl.randn({2, 4, 3}, "float64")
    local l = nn.LSTM(5, {return_sequences = true, return_state = true, dtype = "float64"})
    local mask = dagl.tensor({{1, 1, 0, 0}, {1, 1, 1, 1}}, "float64")
    local y, h, c = l(x, {mask = mask})
    -- sample 1: steps 3 and 4 are padding: the output and state stay those of step 2
    local y2, h2, c2 = l(x:narrow(2, 1, 2))
    close(y:select(1, 1):select(1, 3), y2:select(1, 1):select(1, 2), "held output")
    close(h:select(1, 1), h2:select(1, 1), "carried h")
    close(c:select(1, 1), c2:select(1, 1), "carried c")
    -- an initial state: running 2 steps, then 2 more from that state, is running 4
    local _, hm, cm = l(x:narrow(2, 1, 2))
    local ya, ha = l(x:narrow(2, 3, 2), {initial_state = {hm, cm}})
    local yall, hall = l(x)
    close(ha, hall, "h after 4 steps")
    close(ya, yall:narrow(2, 3, 2), "the last 2 outputs")
    -- go_backwards: the reversed sequence forwards
    local back = nn.GRU(5, {go_backwards = true, dtype = "float64"})
    local fwd = nn.GRU(5, {dtype = "float64"})
    back(x)
    fwd(x)
    fwd.kernel:copy(back.kernel)
    fwd.recurrent_kernel:copy(back.recurrent_kernel)
    fwd.bias:copy(back.bias)
    local rev = dagl.concat({x:narrow(2, 4, 1), x:narrow(2, 3, 1), x:narrow(2, 2, 1), x:narrow(2, 1, 1)}, 2)
    close(back(x), fwd(rev), "go_backwards")
  end)

  it("GRU without reset_after and TimeDistributed", function()
    local x = dagl.randn({2, 3, 4}, "float64")
    local g = nn.GRU(3, {reset_after = false, dtype = "float64"})
    local y = g(x)
    assert.same({9}, g.bias.shape)
    -- one step by hand (Keras's reset_after = false): h = z * h + (1 - z) * tanh(x Wh + (r * h) Uh + bh)
    local W, U, bb = g.kernel, g.recurrent_kernel, g.bias
    local h = dagl.zeros({2, 3}, "float64")
    for t = 1, 3 do
      local xt = x:select(2, t)
      local xz = xt:matmul(W) + bb
      local z = (xz:narrow(2, 1, 3) + h:matmul(U:narrow(2, 1, 3))):sigmoid()
      local r = (xz:narrow(2, 4, 3) + h:matmul(U:narrow(2, 4, 3))):sigmoid()
      local hh = (xz:narrow(2, 7, 3) + (r * h):matmul(U:narrow(2, 7, 3))):tanh()
      h = z * h + (1 - z) * hh
    end
    close(y, h, "reset_after = false")
    local td = nn.TimeDistributed(nn.Dense(2, {dtype = "float64"}))
    local out = td(x)
    assert.same({2, 3, 2}, out.shape)
    close(out:select(2, 2), td.layer(x:select(2, 2)), "TimeDistributed step 2")
  end)

  it("trains an LSTM on a sequence task with dropout and recurrent_dropout", function()
    -- the label: whether the sum of the first feature over the steps is positive
    local x = dagl.randn(256, 8, 3)
    local y = x:select(3, 1):sum(2):gt(0):to("int64")
    local model = nn.Sequential {
      nn.LSTM(16, {dropout = 0.1, recurrent_dropout = 0.1, input_shape = {8, 3}}),
      nn.Dense(2, "softmax"),
    }
    model:compile{optimizer = nn.Adam{learning_rate = 0.02}, loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
    local hist = model:fit(x, y, {epochs = 20, batch_size = 32, verbose = 0})
    assert.is_true(hist.accuracy[#hist.accuracy] > 0.85, "accuracy " .. hist.accuracy[#hist.accuracy])
  end)

  it("takes the mask of nn.Masking and Embedding{mask_zero = true} before it (Keras's mask propagation)", function()
    local x = dagl.randn({2, 4, 3}, "float64")
    x:select(1, 1):narrow(1, 3, 2):fill(0) -- sample 1: steps 3 and 4 are padding
    local l = nn.LSTM(5, {dtype = "float64"})
    local m = nn.Sequential {nn.Masking {input_shape = {4, 3}, dtype = "float64"}, l}
    local want = l(x, {mask = dagl.tensor({{1, 1, 0, 0}, {1, 1, 1, 1}}, "float64")})
    close(m:predict(x), want, "Masking then LSTM (traced)")
    close(m(x), want, "Masking then LSTM (eager)")
    assert.is_true(max_err(m(x), l(x)) > 1e-3) -- the mask changes the result
    local e = nn.Sequential {nn.Embedding(10, 4, {mask_zero = true, input_shape = {5}}), nn.Bidirectional(nn.GRU(3))}
    local ids = dagl.tensor({{3, 4, 0, 0, 0}, {1, 2, 3, 4, 5}}, "int64")
    local emb, b = e.layers[1], e.layers[2]
    e:predict(ids)
    local short = b(dagl.embedding(emb.embeddings, ids:narrow(1, 1, 1):narrow(2, 1, 2)))
    assert.is_true(max_err(e:predict(ids):narrow(1, 1, 1), short) < 1e-6, "mask_zero then Bidirectional")
    assert_raises(function() nn.Masking()(dagl.randn(2, 3)) end, "Masking: expects (batch, steps, features), got [2, 3]")
  end)

  it("saves and loads models with Bidirectional and TimeDistributed layers", function()
    local m = nn.Sequential {
      nn.Bidirectional(nn.LSTM(4, {return_sequences = true}), {merge_mode = "ave", input_shape = {5, 3}}),
      nn.TimeDistributed(nn.Dense(2)),
      nn.GRU(3),
    }
    local x = dagl.randn(2, 5, 3)
    local y = m:predict(x)
    local path = os.tmpname()
    m:save(path)
    local m2 = nn.load_model(path)
    os.remove(path)
    assert.same(y:totable(), m2:predict(x):totable())
    assert.equal("ave", m2.layers[1].merge_mode)
  end)

  it("raises clear errors", function()
    local x = dagl.randn(2, 3, 4)
    assert_raises(function() nn.LSTM{unit = 3} end, "did you mean 'units'?")
    assert_raises(function() nn.LSTM(3, {stateful = true}) end, "stateful")
    assert_raises(function() nn.LSTM(3)(dagl.randn(2, 4)) end, "expects inputs of shape (batch, steps, features), got [2, 4]")
    assert_raises(function() nn.LSTM(3)(x, {mask2 = 1}) end, "unknown call option 'mask2' (did you mean 'mask'?")
    assert_raises(function() nn.LSTM(3)(x, {initial_state = {dagl.zeros(2, 3)}}) end, "initial_state takes 2 tensor(s) (h and c), got 1")
    assert_raises(function() nn.GRU(3)(x, {initial_state = dagl.zeros(2, 4)}) end, "initial_state 1 has shape [2, 4], the state is [2, 3]")
    assert_raises(function() nn.GRU(3)(x, {mask = dagl.ones(2, 4)}) end, "mask has shape [2, 4], the inputs need [2, 3]")
    assert_raises(function() nn.Bidirectional(nn.Dense(3)) end, "layer must be a SimpleRNN, LSTM or GRU layer")
    assert_raises(function() nn.Bidirectional(nn.LSTM(3), {merge_mode = "avg"}) end, "merge_mode")
    assert_raises(function() nn.TimeDistributed(nn.Dense(3))(dagl.randn(2, 3)) end, "TimeDistributed: expects inputs of shape (batch, steps, ...)")
  end)
end)
