-- uint8_spec.lua -- the uint8 dtype from Lua: names, printing, values, conversions (saturating
-- casts, x:float(1/255) scaling eagerly and inside dagl.fn), views and row gathers, compares, the
-- error every computing op gives on it (the same eagerly and traced), and what the collector is
-- charged for it (one byte per element).
local dagl = require "dagl"

local function img() return dagl.tensor({{0, 1, 2}, {128, 254, 255}}, "uint8") end

describe("uint8", function()
  it("is named uint8, u8 or byte, and prints like PyTorch's torch.uint8", function()
    for _, name in ipairs {"uint8", "u8", "byte"} do assert.are.equal("uint8", dagl.zeros(2, name):dtype()) end
    assert.are.equal("tensor([[  0,   1,   2],\n        [128, 254, 255]], dtype=uint8)", tostring(img()))
    assert.are.equal("uint8", dagl.empty({2, 2}, "uint8"):dtype())
  end)

  it("gives its elements as Lua integers", function()
    local t = img()
    assert.are.equal(255, t[2][3])
    assert.are.equal("integer", math.type(t[2][3]))
    assert.are.equal(128, t:narrow(1, 2, 1):narrow(2, 1, 1):item())
    assert_equal_values(t, {{0, 1, 2}, {128, 254, 255}})
    t[1][1] = 7
    assert.are.equal(7, t[1][1])
  end)

  it("converts to it by rounding toward zero and saturating (NaN gives 0)", function()
    local f = dagl.tensor {-3.5, 0.9, 254.7, 256, 1e9, 0 / 0}
    assert_equal_values(f:byte(), {0, 0, 254, 255, 255, 0})
    assert_equal_values(f:to("uint8"), {0, 0, 254, 255, 255, 0})
    assert_equal_values(dagl.tensor({-1, 300, 65}, "int64"):byte(), {0, 255, 65})
    assert_equal_values(dagl.tensor({1.5, 300}, "uint8"), {1, 255})
    assert_equal_values(dagl.full({2}, 999, "uint8"), {255, 255})
  end)

  it("scales while converting: x:float(1/255) is NumPy's x.astype(float32) / 255, bit for bit", function()
    local all = dagl.arange(0, 256, 1, "uint8")
    local s = all:float(1 / 255)
    assert.are.equal("float32", s:dtype())
    local ref = all:float() / 255 -- float32 division, correctly rounded
    assert.are.equal(0, (s - ref):abs():max():item())
    assert.are.equal("float64", all:double(0.5):dtype())
    assert.are.equal(127.5, all:double(0.5)[256])
    assert.are.equal(127.5, all:to("float64", 0.5)[256])
    assert.are.equal(6, dagl.tensor({1.5, 3}):float(2)[2]) -- any dtype scales
    assert.are.equal(255, dagl.tensor({0.5, 2}):byte(255)[2]) -- saturates after scaling
    assert_raises(function() return all:float("x") end, "float", "number")
    assert_raises(function() return all:float(1 / 0) end, "finite")
    assert_raises(function() return all:float(1, 2) end, "float", "takes ([scale])")
  end)

  it("scales inside dagl.fn to the same bits as eagerly", function()
    local x = dagl.arange(0, 256, 1, "uint8"):reshape(16, 16)
    local w = dagl.randn(16, 4)
    local f = dagl.fn(function(t) return t:float(1 / 255):matmul(w) end)
    local eager = x:float(1 / 255):matmul(w)
    assert.are.equal(0, (f(x) - eager):abs():max():item())
  end)

  it("moves through views, copies, joins and row gathers", function()
    local t = img()
    assert_equal_values(t:t():contiguous(), {{0, 128}, {1, 254}, {2, 255}})
    assert_equal_values(t:reshape(3, 2), {{0, 1}, {2, 128}, {254, 255}})
    assert_equal_values(t:narrow(2, 2, 2), {{1, 2}, {254, 255}})
    assert_equal_values(t:select(1, 2), {128, 254, 255})
    assert_equal_values(t:expand(2, 2, 3):clone()[2], {{0, 1, 2}, {128, 254, 255}})
    assert_equal_values(dagl.concat({t, t}, 1):narrow(1, 3, 1), {{0, 1, 2}})
    assert_equal_values(t:index_select(1, dagl.tensor({2, 1}, "int64")), {{128, 254, 255}, {0, 1, 2}})
    assert.are.equal("uint8", t:index_select(1, dagl.tensor({2}, "int64")):dtype())
    local h = dagl.gather_rows_async(t, {2, 2, 1})
    local g = h:wait()
    assert.are.equal("uint8", g:dtype())
    assert_equal_values(g, {{128, 254, 255}, {128, 254, 255}, {0, 1, 2}})
  end)

  it("comes in batches from dagl.data.batches as uint8 rows", function()
    local x = dagl.arange(0, 60, 1, "uint8"):reshape(20, 3)
    local y = dagl.arange(0, 20, 1, "uint8")
    local seen = 0
    for xb, yb in dagl.data.batches(x, y, {batch_size = 8, seed = 3}) do
      assert.are.equal("uint8", xb:dtype())
      assert.are.equal("uint8", yb:dtype())
      for i = 1, xb.shape[1] do assert.are.equal(yb[i] * 3, xb[i][1]) end -- rows stay with their labels
      seen = seen + xb.shape[1]
    end
    assert.are.equal(20, seen)
  end)

  it("compares into uint8 masks, and where picks uint8 values", function()
    local t, u = img(), dagl.tensor({{1, 1, 1}, {1, 1, 1}}, "uint8")
    local m = t:gt(u)
    assert.are.equal("uint8", m:dtype())
    assert_equal_values(m, {{0, 0, 1}, {1, 1, 1}})
    assert_equal_values(t:eq(255), {{0, 0, 0}, {0, 0, 1}}) -- a number: compared in int64
    assert_equal_values(dagl.where(m, t, u), {{1, 1, 2}, {128, 254, 255}})
    assert.are.equal("uint8", dagl.where(m, t, u):dtype())
  end)

  it("does not compute: every other op raises naming the op and uint8, eagerly and traced alike", function()
    local t = img()
    local cases = {
      {"add", function(x) return x + 1 end}, {"mul", function(x) return x * x end},
      {"div", function(x) return x / 255 end}, {"neg", function(x) return -x end},
      {"exp", function(x) return x:exp() end}, {"sum", function(x) return x:sum() end},
      {"max", function(x) return x:max() end}, {"mean", function(x) return x:mean() end},
      {"matmul", function(x) return x:matmul(x:t()) end}, {"relu", function(x) return x:relu() end},
      {"softmax", function(x) return x:softmax(2) end}, {"clamp", function(x) return x:clamp(0, 1) end},
    }
    for _, c in ipairs(cases) do
      local eager = assert_raises(function() return c[2](t) end, c[1] .. ": uint8", "x:float(1/255)")
      local traced = assert_raises(function() return dagl.fn(c[2])(t) end, c[1] .. ": uint8")
      assert.are.equal(eager:gsub("^.-: " .. c[1] .. ":", ""), traced:gsub("^.-: " .. c[1] .. ":", ""))
    end
    local x4 = dagl.zeros({1, 4, 4, 1}, "uint8")
    assert_raises(function() return dagl.conv2d(x4, dagl.ones(2, 2, 1, 1)) end, "conv2d", "uint8", "x:float(1/255)")
    assert_raises(function() return dagl.rand(2, "uint8") end, "rand", "uint8")
  end)

  it("is saved to .npy as '|u1' (1 byte per element) and loaded back as uint8", function()
    local p = os.tmpname()
    local t = dagl.arange(0, 256, 1, "uint8"):reshape(16, 16):t() -- a view: written in C order
    dagl.save_npy(p, t)
    local h = assert(io.open(p, "rb"))
    local s = h:read("a")
    h:close()
    assert.truthy(s:find("'descr': '|u1'", 1, true))
    assert.are.equal(128 + 256, #s) -- the 128-byte header, then one byte per element
    local back = dagl.load_npy(p)
    os.remove(p)
    assert.are.equal("uint8", back:dtype())
    assert.are.equal(0, (back:long() - t:long()):abs():max():item())
    local st = os.tmpname()
    dagl.save_safetensors(st, {img = t})
    local got = dagl.load_safetensors(st).img
    os.remove(st)
    assert.are.equal("uint8", got:dtype())
    assert_equal_values(got:narrow(1, 1, 1), {{0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240}})
  end)

  it("charges the collector and dagl.live_bytes one byte per element", function()
    collectgarbage()
    local before = dagl.live_bytes()
    local t = dagl.zeros(1000, 1000, "uint8")
    assert.are.equal(1000000, dagl.live_bytes() - before)
    local kb = collectgarbage("count")
    t = nil
    collectgarbage()
    assert.is_true(dagl.live_bytes() <= before)
    assert.is_true(kb > 0)
  end)

  it("feeds a model through nn.Rescaling, which scales uint8 batches inside the step graph", function()
    local nn = dagl.nn
    math.randomseed(5)
    local xf = dagl.rand(48, 6)
    local x = (xf * 255):byte()
    local y = xf:narrow(2, 1, 1):reshape(48):gt(0.5):byte()
    local m = nn.Sequential {nn.Rescaling(1 / 255, {input_shape = {6}}), nn.Dense(2, "softmax")}
    m:compile {optimizer = "adam", loss = "sparse_categorical_crossentropy"}
    assert.are.equal(2, #m:fit(x, y, {epochs = 2, batch_size = 16, verbose = 0}).loss)
    local r = nn.Rescaling(1 / 127.5, -1)
    assert_close(r(dagl.tensor({0, 255}, "uint8")), {-1, 1}, 1e-6)
    assert.are.equal(0, (m.layers[1](x) - x:float(1 / 255)):abs():max():item())
    -- a model without it refuses the bytes at its first layer, saying what to do
    local plain = nn.Sequential {nn.Dense(2, {input_shape = {6}})}
    assert_raises(function() return plain(x) end, "matmul: uint8", "x:float(1/255)")
  end)

  it("is what sparse labels may be in fit (one-hot rows made of uint8 labels)", function()
    local nn = dagl.nn
    math.randomseed(4)
    local x = dagl.randn(32, 4)
    local y = x:narrow(2, 1, 1):reshape(32):gt(0):byte()
    assert.are.equal("uint8", y:dtype())
    local m = nn.Sequential {nn.Dense(2, {activation = "softmax", input_shape = {4}})}
    m:compile {optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = "accuracy"}
    local h = m:fit(x, y, {epochs = 2, batch_size = 8, verbose = 0})
    assert.are.equal(2, #h.loss)
  end)
end)
