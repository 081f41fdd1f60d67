-- tensor_lua_spec.lua -- tensors as Lua values: item, indexing and assignment, #, shape, dtype,
-- totable, tostring (PyTorch's printing), to-be-closed tensors and garbage collection.
local dagl = require "dagl"

describe("tensors in Lua", function()
  describe("item, #, shape, dtype, totable", function()
    it("item() of one-element tensors", function()
      assert.are.equal(2.5, dagl.tensor(2.5):item())
      assert.are.equal(7, dagl.tensor({ { 7 } }):item())
      assert.are.equal("integer", math.type(dagl.tensor({ 3 }, "int64"):item()))
      assert.are.equal(3, dagl.tensor({ 3 }, "int64"):item())
      assert.are.equal("float", math.type(dagl.tensor({ 3 }):item()))
    end)

    it("# is the size of the first dim", function()
      assert.are.equal(2, #dagl.zeros(2, 5))
      assert.are.equal(5, #dagl.zeros(5))
      assert.are.equal(0, #dagl.zeros(0, 3))
      assert.are.equal(5, #dagl.zeros(2, 5):t())
    end)

    it("shape is a fresh 1-based table; size(dim) one entry", function()
      local t = dagl.zeros(2, 3, 4)
      assert.are.same({ 2, 3, 4 }, t.shape)
      local s = t.shape
      s[1] = 99 -- a copy: the tensor is unchanged
      assert.are.same({ 2, 3, 4 }, t.shape)
      assert.are.same({}, dagl.tensor(1).shape)
      assert.are.same({ 2, 3, 4 }, t:size())
      assert.are.equal(3, t:size(2))
      assert.are.equal(4, t:size(-1))
      assert.are.equal(3, t:dim())
      assert.are.equal(24, t:numel())
    end)

    it("dtype() names the element type", function()
      assert.are.equal("float32", dagl.zeros(1):dtype())
      assert.are.equal("float64", dagl.zeros(1, "double"):dtype())
      assert.are.equal("int64", dagl.zeros(1, "i64"):dtype())
    end)

    it("totable() gives nested tables, a number for 0-d", function()
      assert.are.same({ { 1, 2 }, { 3, 4 } }, dagl.tensor({ { 1, 2 }, { 3, 4 } }):totable())
      assert.are.equal(5, dagl.tensor(5):totable())
      assert.are.same({ { 1, 3 }, { 2, 4 } }, dagl.tensor({ { 1, 2 }, { 3, 4 } }):t():totable())
      local big = dagl.arange(1000):totable()
      assert.are.equal(1000, #big)
      assert.are.equal(999, big[1000])
    end)

    it("is_tensor tells tensors from other values", function()
      assert.is_true(dagl.is_tensor(dagl.zeros(1)))
      assert.is_false(dagl.is_tensor({}))
      assert.is_false(dagl.is_tensor(1))
      assert.is_false(dagl.is_tensor(io.stdout))
    end)

    it("unknown keys give nil, methods are shared", function()
      local t = dagl.zeros(2)
      assert.is_nil(t.no_such_method)
      assert.are.equal(t.sum, dagl.ones(3).sum)
    end)
  end)

  describe("indexing", function()
    it("t[i] is a number for 1-d tensors, negative from the end", function()
      local v = dagl.tensor { 10, 20, 30 }
      assert.are.equal(10, v[1])
      assert.are.equal(30, v[3])
      assert.are.equal(30, v[-1])
      assert.are.equal(10, v[-3])
      assert.are.equal("number", type(v[2]))
    end)

    it("t[i] is a row view for n-d tensors", function()
      local m = dagl.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
      local r = m[2]
      assert.is_true(dagl.is_tensor(r))
      assert.are.same({ 3 }, r.shape)
      assert.are.same({ 4, 5, 6 }, r:totable())
      assert.are.equal(6, m[2][3])
      assert.are.equal(2, m[-2][-2])
      r[1] = 40 -- a view: writes reach m
      assert.are.equal(40, m[2][1])
    end)

    it("accepts float keys with integral values", function()
      local v = dagl.tensor { 10, 20, 30 }
      assert.are.equal(20, v[2.0])
    end)

    it("t[i] = number writes an element or fills a row", function()
      local v = dagl.zeros(3)
      v[2] = 5
      v[-1] = 7
      assert.are.same({ 0, 5, 7 }, v:totable())
      local m = dagl.zeros(2, 3)
      m[1] = 4
      m[2][2] = -1
      assert.are.same({ { 4, 4, 4 }, { 0, -1, 0 } }, m:totable())
    end)

    it("t[i] = tensor copies, broadcasting and converting dtype", function()
      local m = dagl.zeros(2, 3)
      m[1] = dagl.tensor { 1, 2, 3 }
      m[2] = dagl.tensor(9)
      assert.are.same({ { 1, 2, 3 }, { 9, 9, 9 } }, m:totable())
      local i = dagl.zeros(2, 2, "int64")
      i[2] = dagl.tensor { 1.9, -1.9 }
      assert.are.same({ { 0, 0 }, { 1, -1 } }, i:totable())
      -- through a transpose: writes the column of the base
      local b = dagl.zeros(2, 2)
      b:t()[2] = dagl.tensor { 5, 6 }
      assert.are.same({ { 0, 5 }, { 0, 6 } }, b:totable())
    end)

    it("int64 assignments keep integers exactly", function()
      local i = dagl.zeros(1, "int64")
      i[1] = (1 << 62) + 1
      assert.are.equal((1 << 62) + 1, i[1])
    end)
  end)

  describe("tostring", function()
    local function show(t) return tostring(t) end

    it("prints like PyTorch: integral floats with a trailing dot", function()
      assert.are.equal("tensor([[1., 2.],\n        [3., 4.]])", show(dagl.tensor { { 1, 2 }, { 3, 4 } }))
      assert.are.equal("tensor([-1.,  0.,  2.])", show(dagl.tensor { -1, 0, 2 }))
      assert.are.equal("tensor([3., 7.])", show(dagl.tensor({ { 1, 2 }, { 3, 4 } }):sum(2)))
    end)

    it("prints fractions with 4 decimals, aligned", function()
      assert.are.equal("tensor([ 1.5000, -2.2500])", show(dagl.tensor { 1.5, -2.25 }))
      assert.are.equal("tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])", show(dagl.linspace(0, 1, 5)))
    end)

    it("switches to scientific notation for wide ranges", function()
      assert.are.equal("tensor([1.0000e+06, 1.0000e+00])", show(dagl.tensor { 1e6, 1 }))
      assert.are.equal("tensor([1.0000e-05, 1.0000e+00])", show(dagl.tensor { 1e-5, 1 }))
    end)

    it("prints 0-d, int64, float64, empty, nan/inf and 3-d tensors", function()
      assert.are.equal("tensor(3.)", show(dagl.tensor(3)))
      assert.are.equal("tensor(2.5000)", show(dagl.tensor(2.5)))
      assert.are.equal("tensor([1, 2, 3])", show(dagl.tensor({ 1, 2, 3 }, "int64")))
      assert.are.equal("tensor([[  1, -20],\n        [300,   4]])", show(dagl.tensor({ { 1, -20 }, { 300, 4 } }, "int64")))
      assert.are.equal("tensor(7)", show(dagl.tensor(7, "int64")))
      -- PyTorch says dtype=torch.float64; dagl has no torch namespace, its dtype names are plain
      assert.are.equal("tensor([1., 2.], dtype=float64)", show(dagl.tensor({ 1, 2 }, "float64")))
      assert.are.equal("tensor([])", show(dagl.zeros(0)))
      assert.are.equal("tensor([nan, 1., inf])", show(dagl.tensor { 0 / 0, 1, math.huge }))
      assert.are.equal("tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])",
        show(dagl.arange(8):reshape(2, 2, 2)))
    end)

    it("prints views by their values", function()
      assert.are.equal("tensor([[1., 3.],\n        [2., 4.]])", show(dagl.tensor({ { 1, 2 }, { 3, 4 } }):t()))
      assert.are.equal("tensor([2., 4.])", show(dagl.tensor({ { 1, 2 }, { 3, 4 } }):select(2, 2)))
    end)

    it("summarizes big tensors with ...", function()
      local s = show(dagl.arange(10000):reshape(100, 100))
      assert.truthy(s:find("...", 1, true))
      assert.truthy(s:find("\n        ...,\n", 1, true))
      assert.is_true(#s < 2000, "summary is " .. #s .. " bytes")
      assert.are.equal(
        "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 9.7000e+01, 9.8000e+01,\n         9.9000e+01],\n",
        s:sub(1, 97))
      assert.are.equal("tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])",
        show(dagl.arange(2000)))
    end)

    it("works with print and string concatenation via tostring", function()
      assert.are.equal("x = tensor([1.])", "x = " .. tostring(dagl.ones(1)))
    end)
  end)

  describe("lifetime", function()
    it("closes a to-be-closed tensor at the end of its scope", function()
      local escaped
      do
        local t <close> = dagl.zeros(4)
        t[1] = 1
        escaped = t
        assert.are.equal(1, t:sum():item())
      end
      local err = assert_raises(function() return escaped:sum() end, "closed tensor")
      assert_raises(function() return escaped[1] end, "closed tensor")
      assert_raises(function() return escaped + 1 end, "closed tensor")
      assert_raises(function() return dagl.add(escaped, 1) end, "closed tensor")
      assert_raises(function() return tostring(escaped) end, "closed tensor")
      assert.is_string(err)
    end)

    it("close() releases the memory now; a closed tensor refuses use, like a closed file", function()
      collectgarbage()
      local before = dagl.live_bytes()
      local t = dagl.zeros(1024, 256) -- 1 MB
      assert.is_true(dagl.live_bytes() >= before + 1024 * 1024)
      t:close()
      assert.is_true(dagl.live_bytes() < before + 1024 * 1024)
      assert_raises(function() t:close() end, "closed tensor")
      assert_raises(function() return t:sum() end, "closed tensor")
    end)

    it("a closed view leaves its base usable, and the base's memory alive", function()
      local base = dagl.arange(6)
      do
        local v <close> = base:slice(1, 2, 3)
        assert.are.same({ 1, 2 }, v:totable())
      end
      assert.are.same({ 0, 1, 2, 3, 4, 5 }, base:totable())
      local v = base:reshape(2, 3)
      base:close()
      collectgarbage()
      assert.are.same({ { 0, 1, 2 }, { 3, 4, 5 } }, v:totable())
    end)

    it("the garbage collector keeps tensor memory bounded in loops", function()
      collectgarbage()
      local base = dagl.live_bytes()
      local peak = 0
      local mb = 1024 * 1024
      for i = 1, 10000 do
        local t = dagl.zeros(mb // 4) -- 1 MB of float32
        t[1] = i
        local live = dagl.live_bytes() - base
        if live > peak then peak = live end
      end
      -- 10000 MB were allocated in total; far less may be alive at once
      assert.is_true(peak < 512 * mb, ("peak live tensor memory %.0f MB"):format(peak / mb))
      collectgarbage()
      collectgarbage()
      assert.is_true(dagl.live_bytes() - base < 4 * mb,
        ("%.1f MB still live after a full collection"):format((dagl.live_bytes() - base) / mb))
    end)

    it("views and results of ops are collected too", function()
      collectgarbage()
      local base = dagl.live_bytes()
      local x = dagl.ones(256, 256)
      for _ = 1, 2000 do
        local y = (x + 1):t():reshape(-1)
        assert(y[1] == 2)
      end
      x = nil
      collectgarbage()
      collectgarbage()
      assert.is_true(dagl.live_bytes() - base < 65536, "leak: " .. (dagl.live_bytes() - base) .. " bytes")
    end)
  end)
end)
