-- Bad input at every layer and op, empty tensors, sizes too big for memory, corrupt CSV files,
-- errors raised by user code (custom layers, luaop backwards, fit callbacks) and NaN/inf
-- detection (dagl.set_check_numerics): each gives an error naming what failed and where, leaves
-- nothing half-built, and the next call works.
local dagl = require "dagl"
local nn = dagl.nn

local H = {assert_raises = assert_raises, assert_equal_values = assert_equal_values}

-- Calls f expecting an error that contains every pattern (plain text); returns the message.
local function raises(f, ...)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected an error")
  err = tostring(err)
  for _, p in ipairs {...} do
    assert.truthy(err:find(p, 1, true), ("error %q lacks %q"):format(err, p))
  end
  return err
end

after_each(function() dagl.set_check_numerics(false) collectgarbage() end)

describe("layers given the wrong shape or dtype", function()
  -- {name, make layer, good input, bad input, what the error says}; the layer is called on the
  -- good input first (building it), then on the bad one eagerly and inside a trace, then on the
  -- good one again, which must still work and give the same result.
  local function img(...) return dagl.randn(...) end
  local cases = {
    {"Dense", function() return nn.Dense(3) end, dagl.randn(2, 4), dagl.randn(2, 5), "matmul", "[2, 5]", "[4, 3]"},
    {"Conv2D channels", function() return nn.Conv2D(2, 3) end, img(1, 5, 5, 1), img(1, 5, 5, 2), "conv2d", "channels"},
    {"Conv2D rank", function() return nn.Conv2D(2, 3) end, img(1, 5, 5, 1), dagl.randn(5, 5, 1), "conv2d", "[5, 5, 1]"},
    {"Conv2D too small", function() return nn.Conv2D(2, 3) end, img(1, 5, 5, 1), img(1, 2, 2, 1), "larger than the input"},
    {"MaxPool2D rank", function() return nn.MaxPool2D(2) end, img(1, 4, 4, 1), dagl.randn(4, 4), "max_pool2d", "[4, 4]"},
    {"AvgPool2D dtype", function() return nn.AvgPool2D(2) end, img(1, 4, 4, 1), dagl.ones(1, 4, 4, 1):long(), "avg_pool2d", "int64"},
    {"MaxPool2D window", function() return nn.MaxPool2D(3) end, img(1, 4, 4, 1), img(1, 2, 2, 1), "pool window 3x3"},
    {"GlobalAveragePooling2D", function() return nn.GlobalAveragePooling2D() end, img(1, 4, 4, 2), dagl.randn(1, 4, 4), "[1, 4, 4]"},
    {"BatchNormalization features", function() return nn.BatchNormalization() end, dagl.randn(2, 3), dagl.randn(2, 4), "[2, 4]", "[3]"},
    {"BatchNormalization rank", function() return nn.BatchNormalization() end, dagl.randn(2, 3), dagl.randn(3), "at least 2 dims"},
    {"Embedding dtype", function() return nn.Embedding(10, 3) end, dagl.tensor{1, 2}:long(), dagl.tensor{1, 2}, "int64", "float32"},
    {"Concatenate", function() return nn.Concatenate() end, {dagl.randn(2, 3), dagl.randn(2, 1)},
      {dagl.randn(2, 3), dagl.randn(3, 1)}, "concat", "[3, 1]", "[2, 3]"},
    {"Add", function() return nn.Add() end, {dagl.randn(2, 3), dagl.randn(2, 3)}, {dagl.randn(2, 3), dagl.randn(2, 4)},
      "input 2 has shape [2, 4]"},
    {"LayerNormalization", function() return nn.LayerNormalization() end, dagl.randn(2, 3), dagl.randn(2, 4), "[2, 4]", "[3]"},
    {"Reshape", function() return nn.Reshape({2, 2}) end, dagl.randn(3, 4), dagl.randn(3, 5), "reshape", "[3, 5]"},
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " names the layer and the shapes, eagerly and traced, and keeps working", function()
      local layer, good, bad = c[2](), c[3], c[4]
      local want = layer(good):totable()
      local nweights = #layer.weights
      local pats = {"layer '" .. layer.name .. "'", table.unpack(c, 5)}
      raises(function() return layer(bad) end, table.unpack(pats))
      local traced = dagl.fn(function(...) return layer(select("#", ...) > 1 and {...} or ...) end)
      local args = type(bad) == "table" and not dagl.is_tensor(bad) and bad or {bad}
      raises(function() return traced(table.unpack(args)) end, table.unpack(pats))
      assert.equal(nweights, #layer.weights)
      H.assert_equal_values(layer(good), want)
      local gargs = type(good) == "table" and not dagl.is_tensor(good) and good or {good}
      H.assert_equal_values(traced(table.unpack(gargs)), want)
    end)
  end

  it("Embedding names a token id out of range", function()
    local e = nn.Embedding(10, 3)
    raises(function() return e(dagl.tensor{1, 12}:long()) end, "layer '" .. e.name .. "'", "index 12", "0..9")
    raises(function() return e(dagl.tensor{-1}:long()) end, "index -1")
    assert.same({1, 3}, e(dagl.tensor{9}:long()).shape)
  end)

  it("Dense refuses a scalar input before making any weight", function()
    local d = nn.Dense(2)
    raises(function() return d(dagl.tensor(1)) end, "layer '" .. d.name .. "'", "scalar")
    assert.equal(0, #d.weights)
    assert.is_false(d.built)
    assert.same({4, 2}, d(dagl.ones(4, 3)).shape)
  end)
end)

describe("empty tensors", function()
  it("go through elementwise ops, reductions with an identity, matmul and views", function()
    local e = dagl.zeros(0, 3)
    assert.same({0, 3}, (e + 1):exp():tanh().shape)
    assert.same({0, 3}, (e * dagl.ones(3)).shape)
    assert.same({3}, e:sum(1).shape)
    H.assert_equal_values(e:sum(1), {0, 0, 0})
    assert.equal(0, e:sum():item())
    assert.same({0, 2}, e:matmul(dagl.ones(3, 2)).shape)
    H.assert_equal_values(dagl.zeros(2, 0):matmul(dagl.zeros(0, 2)), {{0, 0}, {0, 0}})
    assert.same({3, 0}, e:t().shape)
    assert.same({0}, e:reshape(-1).shape)
    assert.same({2, 3}, dagl.concat({e, dagl.ones(2, 3)}).shape)
  end)

  it("reductions without an identity name the op and the shape", function()
    raises(function() return dagl.zeros(0):max() end, "max", "zero elements", "[0]")
    raises(function() return dagl.zeros(0, 2):argmin() end, "argmin")
  end)

  it("go through layers and traced models (a batch of zero rows)", function()
    dagl.manual_seed(1)
    local m = nn.Sequential{nn.Dense(4, {activation = "relu"}), nn.LayerNormalization(), nn.Dense(2)}
    assert.same({3, 2}, m:predict(dagl.randn(3, 5)).shape)
    assert.same({0, 2}, m(dagl.zeros(0, 5)).shape)
    local f = dagl.fn(function(x) return m(x) end)
    assert.same({0, 2}, f(dagl.zeros(0, 5)).shape)
    assert.same({0, 2, 2, 3}, nn.Conv2D(3, 2)(dagl.zeros(0, 3, 3, 1)).shape)
    assert.same({0, 1, 1, 1}, nn.MaxPool2D(2)(dagl.zeros(0, 2, 2, 1)).shape)
  end)
end)

describe("sizes too big for memory", function()
  it("fail with an out-of-memory or size error and leave nothing behind", function()
    collectgarbage()
    local live = dagl.live_bytes()
    raises(function() return dagl.zeros(1e12) end, "out of memory", "[1000000000000]")
    raises(function() return dagl.ones(1e6, 1e6) end, "out of memory")
    raises(function() return dagl.randn(1e6, 1e6) end, "out of memory")
    raises(function() return dagl.zeros(1e10, 1e10) end, "too large", "[10000000000, 10000000000]")
    raises(function() return dagl.zeros(2 ^ 31, 2 ^ 31, 4) end, "too large")
    raises(function() return dagl.full({2 ^ 62, 4}, 1) end, "too large")
    assert.equal(live, dagl.live_bytes())
  end)

  it("fail inside a graph run naming the node, then the graph runs again", function()
    local f = dagl.fn(function(x) return x:reshape(-1, 1):matmul(x:reshape(1, -1)):sum() end)
    collectgarbage()
    local small = dagl.ones(3)
    assert.equal(9, f(small):item())
    local big = dagl.ones(1e6)
    local live = dagl.live_bytes()
    raises(function() return f(big) end, "matmul", "out of memory")
    assert.equal(live, dagl.live_bytes())
    assert.equal(9, f(small):item())
  end)
end)

describe("corrupt CSV files", function()
  local path = os.tmpname()
  teardown(function() os.remove(path) end)
  local function write(s)
    local fh = assert(io.open(path, "wb"))
    fh:write(s)
    fh:close()
  end

  it("fail cleanly at every truncation of a file with a header", function()
    local good = "a,b,c\n1,2,3\n4.5,-6e3,7\n"
    for cut = 0, #good do
      write(good:sub(1, cut))
      local ok, t = pcall(dagl.read_csv, path, {header = true})
      if ok then
        -- a cut at a line end or inside a number reads fewer rows or a shorter number: never more
        assert.is_true(t.shape[1] <= 2 and (t.shape[1] == 0 or t.shape[2] == 3), "cut " .. cut)
      else
        assert.truthy(tostring(t):find(path, 1, true), tostring(t))
      end
    end
    write(good)
    H.assert_equal_values(dagl.read_csv(path, {header = true}), {{1, 2, 3}, {4.5, -6000, 7}})
  end)

  it("refuses binary garbage and NUL bytes inside a field, naming line and column", function()
    write("1,2\n3,4\0" .. "99\n")
    raises(function() return dagl.read_csv(path) end, path, "line 2, column 2")
    write("\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    raises(function() return dagl.read_csv(path) end, path, "line 1, column 1", "not a number")
    write("1,2\n")
    H.assert_equal_values(dagl.read_csv(path), {{1, 2}})
  end)
end)

describe("errors in user code", function()
  it("a custom layer's build or call names the layer, and the layer works once fixed", function()
    local Picky = nn.layer_class("picky")
    function Picky.new(opts)
      local self = setmetatable({}, Picky)
      self:init(opts)
      return self
    end
    function Picky:build(shape)
      self.w = self:add_weight("w", dagl.ones(shape[#shape]))
      if shape[#shape] ~= 3 then error("picky wants 3 features") end
    end
    function Picky:call(x)
      if x.shape[1] > 4 then error("batches of at most 4 rows") end
      return x * self.w
    end
    local p = Picky()
    raises(function() return p(dagl.ones(2, 5)) end, "layer '" .. p.name .. "'", "picky wants 3 features")
    assert.equal(0, #p.weights) -- the failed build's weight is gone
    raises(function() return p(dagl.ones(6, 3)) end, "layer '" .. p.name .. "'", "at most 4 rows")
    assert.equal(1, #p.weights)
    H.assert_equal_values(p(dagl.ones(1, 3)), {{1, 1, 1}})
    local f = dagl.fn(function(x) return p(x) end)
    raises(function() return f(dagl.ones(6, 3)) end, "layer '" .. p.name .. "'", "at most 4 rows")
    H.assert_equal_values(f(dagl.ones(2, 3) * 2), {{2, 2, 2}, {2, 2, 2}})
  end)

  it("a luaop backward failing during dagl.grad names the op; grad works again after", function()
    local fail = true
    local sq = dagl.luaop{name = "square_op", forward = function(t) return t * t end,
      backward = function(g, x)
        if fail then error("backward exploded") end
        return g * x * 2
      end}
    local df = dagl.grad(function(x) return sq(x):sum() end)
    local x = dagl.tensor{1, 2, 3}
    raises(function() return df(x) end, "square_op", "backward exploded")
    fail = false
    local loss, g = df(x)
    assert.equal(14, loss:item())
    H.assert_equal_values(g, {2, 4, 6})
  end)

  it("a fit callback failing names the callback, hook and epoch; fit works again after", function()
    dagl.manual_seed(3)
    local m = nn.Sequential{nn.Dense(1)}
    m:compile{loss = "mse", optimizer = nn.SGD{lr = 0.01}}
    local x, y = dagl.randn(8, 2), dagl.randn(8, 1)
    raises(function()
      m:fit(x, y, {epochs = 3, verbose = false, callbacks = {function(epoch)
        if epoch == 2 then error("disk full") end
      end}})
    end, "callback 1", "on_epoch_end", "epoch 2", "disk full")
    local h = m:fit(x, y, {epochs = 2, verbose = false})
    assert.equal(2, #h.loss)
  end)
end)

describe("dagl.set_check_numerics", function()
  it("fails a graph run at the first node giving NaN, naming node, op and layer", function()
    local d = nn.Dense(2, {name = "logits"})
    local f = dagl.fn(function(x) return (d(x):log() * 2):sum() end)
    local x = dagl.tensor{{1, 2}}
    d:build(x.shape)
    d.built = true
    d.kernel:copy(dagl.tensor{{1, -1}, {1, -1}})
    assert.is_true(f(x):item() ~= f(x):item()) -- NaN passes silently by default
    assert.is_false(dagl.set_check_numerics(true))
    -- log and the product run as one elementwise program (graph/fuse_ew.c): the error names the
    -- fused node and the step where the NaN appears
    local err = raises(function() return f(x) end, "(log+mul, inputs [1, 2])", "NaN at element 2 (at its step 1, log)",
      "check_numerics")
    assert.truthy(err:find("node %%%d+"), err)
    d.kernel:copy(dagl.tensor{{1, 1}, {1, 0 / 0}}) -- now the layer itself makes the NaN
    -- the matmul runs fused with the bias add (graph/fuse.c): the error names the fused node
    raises(function() return f(x) end, "(matmul+add in layer logits, inputs [1, 2], [2, 2], [2])", "NaN at element 2")
    d.kernel:copy(dagl.tensor{{1, 1}, {1, 1}})
    assert.near(4 * math.log(3), f(x):item(), 1e-5)
    assert.is_true(dagl.set_check_numerics(false))
    d.kernel:copy(dagl.tensor{{1, -1}, {1, -1}})
    assert.is_true(f(x):item() ~= f(x):item())
  end)

  it("catches infinities in float64 and names the first op only", function()
    dagl.set_check_numerics(true)
    local f = dagl.fn(function(x) return ((x / 0):exp() + 1):sum() end)
    raises(function() return f(dagl.tensor({1, -1}, "float64")) end, "div+exp+add", "inf at element 1 (at its step 1, div)")
    local ok, err = pcall(f, dagl.tensor({1, -1}, "float64"))
    assert.is_nil(tostring(err):find("step 2", 1, true)) -- exp of inf is inf too, but div came first
    assert.is_false(ok)
  end)

  it("passes finite and integer results, and the runtime keeps working after a failure", function()
    dagl.set_check_numerics(true)
    local f = dagl.fn(function(x) return x:sqrt():sum(), x:argmax() end)
    raises(function() return f(dagl.tensor{1, -4}) end, "sqrt")
    local s, i = f(dagl.tensor{1, 4, 9})
    assert.equal(6, s:item())
    assert.equal(3, i:item()) -- 1-based
  end)

  it("reports NaN fed into a graph as the input, and a diverging fit at the layer", function()
    dagl.set_check_numerics(true)
    local m = nn.Sequential{nn.Dense(1, {name = "out", use_bias = false})}
    m:compile{loss = "mse", optimizer = nn.SGD{lr = 0.1}}
    local x = dagl.tensor{{1, 0 / 0}, {1, 2}}
    raises(function() m:fit(x, dagl.ones(2, 1), {epochs = 1, verbose = false, shuffle = false}) end,
      "graph input 1", "NaN at element 2")
    m:fit(dagl.ones(2, 2), dagl.ones(2, 1), {epochs = 1, verbose = false})
    -- a huge learning rate: the weights overflow to inf within a few steps
    m:compile{loss = "mse", optimizer = nn.SGD{lr = 1e30}}
    raises(function() m:fit(dagl.ones(2, 2) * 1e10, dagl.ones(2, 1), {epochs = 5, verbose = false}) end,
      "check_numerics", "inf")
    dagl.set_check_numerics(false)
  end)
end)

describe("embedding sessions reading a view output", function()
  -- spec/embed/view_output.c runs models returning views of a [2, 1000] float32 input
  -- (x:narrow(2, 1, 500), the tail half, x:t(), an expanded sum) through dagl_session_read_output
  -- and prints each refusal of a wrong-size buffer; ctest passes its path.
  local exe = os.getenv("DAGL_EMBED_VIEW_OUTPUT") or "build/embed_view_output"

  it("reads exactly the output's own bytes; other sizes name the output and both byte counts", function()
    local p = assert(io.popen(("'%s' messages 2>&1"):format(exe:gsub("'", "'\\''"))))
    local out = p:read("a")
    local ok, how, code = p:close()
    assert(ok, ("%s failed (%s %s): %s"):format(exe, how, code, out))
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    local function has(text)
      for _, l in ipairs(lines) do if l == text then return true end end
      return false
    end
    local narrow = "session_read_output: output 0 is float32 [2, 500] (4000 bytes), "
    -- the shared block's size (8000 bytes) was accepted before, and read past the view's copy
    for _, given in ipairs {"buffer has 8000 bytes", "buffer has 3996 bytes", "buffer has 4001 bytes", "buffer is NULL"} do
      assert.truthy(has(narrow .. given), ("no refusal %q in:\n%s"):format(narrow .. given, out))
    end
    -- an expanded view shares a block smaller than its own bytes: that size is refused too
    assert.truthy(has("session_read_output: output 0 is float32 [2, 1000] (8000 bytes), buffer has 8 bytes"), out)
    assert.equal(15, #lines, out)
  end)
end)
