-- tensor_create_spec.lua -- creating tensors from Lua: zeros/ones/full/empty, arange, linspace,
-- rand/randn with seeds, dagl.tensor{...} from nested tables, dtypes.
local dagl = require "dagl"

describe("tensor creation", function()
  describe("zeros, ones, full, empty", function()
    it("takes a shape as varargs or as a table, default dtype float32", function()
      local a = dagl.zeros(2, 3)
      assert_shape(a, { 2, 3 })
      assert.are.equal("float32", a:dtype())
      assert_equal_values(a, { { 0, 0, 0 }, { 0, 0, 0 } })
      local b = dagl.ones({ 3, 1 })
      assert_shape(b, { 3, 1 })
      assert_equal_values(b, { { 1 }, { 1 }, { 1 } })
    end)

    it("takes a dtype after the shape", function()
      assert.are.equal("float64", dagl.zeros(2, "float64"):dtype())
      assert.are.equal("int64", dagl.ones({ 2, 2 }, "int64"):dtype())
      assert.are.equal("float64", dagl.ones(3, dagl.float64):dtype())
      assert.are.equal("int64", dagl.zeros(1, "long"):dtype())
      assert.are.equal("float32", dagl.zeros(1, "f32"):dtype())
      -- int64 elements come back as Lua integers
      assert.are.equal("integer", math.type(dagl.ones(2, "int64")[1]))
      assert.are.equal("float", math.type(dagl.ones(2)[1]))
    end)

    it("makes 0-d tensors from an empty shape", function()
      local s = dagl.zeros({})
      assert.are.equal(0, s:dim())
      assert.are.equal(1, s:numel())
      assert.are.equal(0, s:item())
    end)

    it("makes tensors with a zero-size dim", function()
      local e = dagl.zeros(2, 0)
      assert_shape(e, { 2, 0 })
      assert.are.equal(0, e:numel())
      assert.are.same({ {}, {} }, e:totable())
    end)

    it("fills with full(shape, value, dtype)", function()
      local f = dagl.full({ 2, 2 }, 7.5)
      assert_equal_values(f, { { 7.5, 7.5 }, { 7.5, 7.5 } })
      local i = dagl.full({ 3 }, -4, "int64")
      assert.are.equal("int64", i:dtype())
      assert.are.same({ -4, -4, -4 }, i:totable())
      -- float32 rounding is visible: 0.1 is not representable
      assert.are_not.equal(0.1, dagl.full({ 1 }, 0.1)[1])
      assert.are.equal(0.1, dagl.full({ 1 }, 0.1, "float64")[1])
    end)

    it("makes empty() with the asked shape and dtype", function()
      local e = dagl.empty(4, 5, "float64")
      assert_shape(e, { 4, 5 })
      assert.are.equal("float64", e:dtype())
      assert.is_true(e:is_contiguous())
      assert.are.same({ 5, 1 }, e:stride())
    end)
  end)

  describe("arange and linspace", function()
    it("arange(stop) counts from 0 and excludes the stop", function()
      assert_equal_values(dagl.arange(5), { 0, 1, 2, 3, 4 })
      assert.are.equal("float32", dagl.arange(5):dtype())
    end)

    it("arange(start, stop, step) with fractional and negative steps", function()
      assert_equal_values(dagl.arange(2, 5), { 2, 3, 4 })
      assert_close(dagl.arange(0, 1, 0.25), { 0, 0.25, 0.5, 0.75 })
      assert_equal_values(dagl.arange(5, 0, -2), { 5, 3, 1 })
      assert.are.equal(0, dagl.arange(3, 3):numel())
    end)

    it("arange takes a dtype", function()
      local a = dagl.arange(1, 4, "int64")
      assert.are.equal("int64", a:dtype())
      assert.are.same({ 1, 2, 3 }, a:totable())
      assert.are.equal("float64", dagl.arange(3, "float64"):dtype())
    end)

    it("linspace includes both ends", function()
      assert_close(dagl.linspace(0, 1, 5), { 0, 0.25, 0.5, 0.75, 1 })
      assert_close(dagl.linspace(-1, 1, 3), { -1, 0, 1 })
      assert_close(dagl.linspace(2, 2, 1), { 2 })
      assert.are.equal(0, dagl.linspace(0, 1, 0):numel())
      local d = dagl.linspace(0, 1, 11, "float64")
      assert.are.equal("float64", d:dtype())
      assert.are.equal(1, d[11])
      assert_close(d[4], 0.3, 1e-12)
    end)
  end)

  describe("rand and randn", function()
    it("gives the same numbers for the same seed, others for another seed", function()
      dagl.manual_seed(42)
      local a = dagl.rand(3, 4):totable()
      local b = dagl.randn(5):totable()
      dagl.manual_seed(42)
      local a2 = dagl.rand(3, 4):totable()
      local b2 = dagl.randn(5):totable()
      assert.are.same(a, a2)
      assert.are.same(b, b2)
      dagl.manual_seed(43)
      assert.are_not.same(a, dagl.rand(3, 4):totable())
    end)

    it("draws new numbers on each call", function()
      dagl.manual_seed(1)
      local a, b = dagl.rand(8):totable(), dagl.rand(8):totable()
      assert.are_not.same(a, b)
      -- and the elements of one tensor differ from each other
      local seen = {}
      for _, v in ipairs(a) do
        assert.is_nil(seen[v])
        seen[v] = true
      end
    end)

    it("depends only on the draw, not on the shape it is drawn in", function()
      dagl.manual_seed(7)
      local v = dagl.rand(6):totable()
      dagl.manual_seed(7)
      local m = dagl.rand(2, 3)
      assert_shape(m, { 2, 3 })
      assert.are.same(v, flat(m:totable()))
    end)

    it("rand is uniform in [0, 1)", function()
      dagl.manual_seed(123)
      local n = 20000
      local t = dagl.rand(n)
      assert.is_true(t:min():item() >= 0)
      assert.is_true(t:max():item() < 1)
      local mean = t:mean():item()
      assert.is_true(math.abs(mean - 0.5) < 0.02, "mean " .. mean)
      local var = t:var():item()
      assert.is_true(math.abs(var - 1 / 12) < 0.01, "var " .. var)
      -- a quarter of the numbers below 0.25
      local below = t:lt(0.25):sum():item() / n
      assert.is_true(math.abs(below - 0.25) < 0.02, "fraction below 0.25: " .. below)
    end)

    it("randn is standard normal", function()
      dagl.manual_seed(99)
      local t = dagl.randn(20000, "float64")
      assert.are.equal("float64", t:dtype())
      local mean, var = t:mean():item(), t:var():item()
      assert.is_true(math.abs(mean) < 0.03, "mean " .. mean)
      assert.is_true(math.abs(var - 1) < 0.05, "var " .. var)
      -- about 68% within one standard deviation
      local within = t:abs():lt(1):sum():item() / 20000
      assert.is_true(math.abs(within - 0.6827) < 0.02, "within 1 sd: " .. within)
    end)

    it("rand takes shapes as tables and dtypes", function()
      local t = dagl.rand({ 2, 5 }, "float64")
      assert_shape(t, { 2, 5 })
      assert.are.equal("float64", t:dtype())
    end)
  end)

  describe("dagl.tensor from nested tables", function()
    it("makes 1-d, 2-d and 3-d tensors", function()
      local v = dagl.tensor { 1, 2, 3 }
      assert_shape(v, { 3 })
      assert.are.same({ 1, 2, 3 }, v:totable())
      local m = dagl.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
      assert_shape(m, { 2, 3 })
      assert.are.equal(6, m[2][3])
      local c = dagl.tensor { { { 1 }, { 2 } }, { { 3 }, { 4 } } }
      assert_shape(c, { 2, 2, 1 })
      assert.are.same({ { { 1 }, { 2 } }, { { 3 }, { 4 } } }, c:totable())
    end)

    it("makes a 0-d tensor from a number", function()
      local s = dagl.tensor(2.5)
      assert.are.equal(0, s:dim())
      assert.are.equal(2.5, s:item())
    end)

    it("takes a dtype; int64 keeps large integers exactly", function()
      local i = dagl.tensor({ 1, -2, (1 << 53) + 1 }, "int64")
      assert.are.equal("int64", i:dtype())
      assert.are.equal((1 << 53) + 1, i[3])
      assert.are.equal("integer", math.type(i[3]))
      local d = dagl.tensor({ 0.1 }, "float64")
      assert.are.equal(0.1, d[1])
      local f = dagl.tensor { 0.1 }
      assert.are.equal("float32", f:dtype())
      assert_close(f[1], 0.1, 1e-7)
    end)

    it("converts float values to int64 by truncation", function()
      assert.are.same({ 1, -1 }, dagl.tensor({ 1.7, -1.7 }, "int64"):totable())
    end)

    it("makes an empty tensor from {}", function()
      local e = dagl.tensor {}
      assert_shape(e, { 0 })
      assert.are.equal(0, e:numel())
    end)

    it("rejects ragged tables", function()
      assert_raises(function() dagl.tensor { { 1, 2 }, { 3 } } end, "tensor", "ragged", "[2, 2]")
      assert_raises(function() dagl.tensor { { 1, 2 }, 3 } end, "tensor", "ragged")
      assert_raises(function() dagl.tensor { 1, { 2, 3 } } end, "tensor")
      assert_raises(function() dagl.tensor { { { 1, 2 }, { 3, 4 } }, { { 5, 6 }, { 7 } } } end, "ragged")
    end)

    it("rejects non-numbers", function()
      assert_raises(function() dagl.tensor { 1, "x", 3 } end, "tensor", "element 2", "string")
      assert_raises(function() dagl.tensor { 1, true } end, "tensor", "boolean")
      assert_raises(function() dagl.tensor("abc") end, "tensor")
    end)
  end)
end)
