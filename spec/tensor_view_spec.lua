-- tensor_view_spec.lua -- views share memory with their base: reshape/view, transpose/permute/t,
-- slice/narrow/select, squeeze/unsqueeze, expand, contiguous/clone, strides and offsets.
local dagl = require "dagl"

-- 0, 1, ..., n-1 in the given shape
local function iota(...)
  local shape = { ... }
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return dagl.arange(n):reshape(shape)
end

describe("tensor views", function()
  describe("reshape and view", function()
    it("reshapes a contiguous tensor as a view, -1 inferred", function()
      local a = iota(2, 6)
      local b = a:reshape(3, -1)
      assert_shape(b, { 3, 4 })
      assert_equal_values(b, { { 0, 1, 2, 3 }, { 4, 5, 6, 7 }, { 8, 9, 10, 11 } })
      assert.are.same({ 4, 1 }, b:stride())
      assert_shape(a:reshape(-1), { 12 })
      assert_shape(a:reshape({ 2, -1, 3 }), { 2, 2, 3 })
      assert_shape(a:view(4, 3), { 4, 3 })
      assert_shape(a:flatten(), { 12 })
    end)

    it("shares memory between a reshape view and its base", function()
      local a = iota(2, 3)
      local b = a:view(6)
      b[5] = 100
      assert.are.equal(100, a[2][2])
      a[1][1] = -1
      assert.are.equal(-1, b[1])
    end)

    it("reshape copies a non-contiguous tensor where view refuses", function()
      local a = iota(2, 3)
      local t = a:t()
      assert.is_false(t:is_contiguous())
      assert.has_error(function() t:view(6) end)
      local r = t:reshape(6)
      assert_equal_values(r, { 0, 3, 1, 4, 2, 5 })
      assert.is_true(r:is_contiguous())
      -- the copy does not write through to a
      r[1] = 99
      assert.are.equal(0, a[1][1])
    end)

    it("views a non-contiguous tensor when the strides allow it", function()
      -- columns 1..2 of a 3x4: each row is contiguous, so splitting the last dim works
      local a = iota(3, 4)
      local s = a:narrow(2, 1, 2)
      assert.is_false(s:is_contiguous())
      local v = s:view(3, 2, 1)
      assert.are.same({ 4, 1, 1 }, v:stride())
      assert_equal_values(v:squeeze(3), { { 0, 1 }, { 4, 5 }, { 8, 9 } })
    end)
  end)

  describe("transpose, permute, t", function()
    it("t() swaps the two dims of a matrix without copying", function()
      local a = iota(2, 3)
      local t = a:t()
      assert_shape(t, { 3, 2 })
      assert.are.same({ 1, 3 }, t:stride())
      assert_equal_values(t, { { 0, 3 }, { 1, 4 }, { 2, 5 } })
      t[3][1] = 42 -- element (3, 1) of t is (1, 3) of a
      assert.are.equal(42, a[1][3])
    end)

    it("t() of a 1-d tensor is the tensor", function()
      local v = dagl.arange(3)
      assert_equal_values(v:t(), { 0, 1, 2 })
    end)

    it("transpose(d0, d1) with 1-based and negative dims", function()
      local a = iota(2, 3, 4)
      local b = a:transpose(1, 3)
      assert_shape(b, { 4, 3, 2 })
      assert.are.same({ 1, 4, 12 }, b:stride())
      -- b[k][j][i] == a[i][j][k]
      assert.are.equal(a[2][3][4], b[4][3][2])
      assert.are.equal(a[1][2][3], b[3][2][1])
      local c = a:transpose(-1, -2)
      assert_shape(c, { 2, 4, 3 })
      assert.are.equal(a[2][1][4], c[2][4][1])
    end)

    it("permute reorders dims (varargs or a table)", function()
      local a = iota(2, 3, 4)
      local p = a:permute(3, 1, 2)
      assert_shape(p, { 4, 2, 3 })
      assert.are.same({ 1, 12, 4 }, p:stride())
      for i = 1, 2 do
        for j = 1, 3 do
          for k = 1, 4 do
            assert.are.equal(a[i][j][k], p[k][i][j])
          end
        end
      end
      assert_shape(a:permute({ 2, 3, 1 }), { 3, 4, 2 })
      assert_shape(a:permute(-1, -2, -3), { 4, 3, 2 })
    end)
  end)

  describe("slice, narrow, select", function()
    it("slice(dim, first, last) is inclusive and 1-based, like string.sub", function()
      local v = dagl.arange(10)
      assert_equal_values(v:slice(1, 3, 5), { 2, 3, 4 })
      assert_equal_values(v:slice(1, -3), { 7, 8, 9 })
      assert_equal_values(v:slice(1, 2, -2), { 1, 2, 3, 4, 5, 6, 7, 8 })
      assert_equal_values(v:slice(1, 1, -1, 3), { 0, 3, 6, 9 })
      assert.are.equal(0, v:slice(1, 5, 4):numel())
    end)

    it("slice of a matrix keeps a stride and an offset", function()
      local a = iota(4, 5)
      local s = a:slice(2, 2, 4)
      assert_shape(s, { 4, 3 })
      assert.are.same({ 5, 1 }, s:stride())
      assert.are.equal(1, s:storage_offset())
      assert_equal_values(s:select(1, 2), { 6, 7, 8 })
      local r = a:slice(1, 2, 4, 2)
      assert_shape(r, { 2, 5 })
      assert.are.same({ 10, 1 }, r:stride())
      assert.are.equal(5, r:storage_offset())
      assert_equal_values(r, { { 5, 6, 7, 8, 9 }, { 15, 16, 17, 18, 19 } })
    end)

    it("narrow(dim, first, length)", function()
      local a = iota(3, 4)
      local n = a:narrow(2, 2, 2)
      assert_equal_values(n, { { 1, 2 }, { 5, 6 }, { 9, 10 } })
      assert.are.equal(1, n:storage_offset())
      assert_equal_values(a:narrow(1, -1, 1), { { 8, 9, 10, 11 } })
    end)

    it("select(dim, i) removes the dim", function()
      local a = iota(3, 4)
      assert_equal_values(a:select(1, 2), { 4, 5, 6, 7 })
      assert_equal_values(a:select(2, 4), { 3, 7, 11 })
      assert_equal_values(a:select(2, -1), { 3, 7, 11 })
      local col = a:select(2, 1)
      assert.are.equal(4, col:stride()[1])
      assert.are.equal(0, a:select(1, 1):select(1, 1):dim())
    end)

    it("writes through slices and selects reach the base", function()
      local a = dagl.zeros(3, 4)
      a:select(2, 2):fill(5)
      a:slice(1, 3, 3):fill(1)
      a:narrow(2, 4, 1):copy(dagl.tensor { { 7 }, { 8 }, { 9 } })
      assert_equal_values(a, { { 0, 5, 0, 7 }, { 0, 5, 0, 8 }, { 1, 1, 1, 9 } })
    end)
  end)

  describe("squeeze and unsqueeze", function()
    it("squeeze removes size-1 dims, all or one", function()
      local a = dagl.zeros(1, 3, 1, 2)
      assert_shape(a:squeeze(), { 3, 2 })
      assert_shape(a:squeeze(1), { 3, 1, 2 })
      assert_shape(a:squeeze(3), { 1, 3, 2 })
      assert_shape(a:squeeze(2), { 1, 3, 1, 2 }) -- size 3: unchanged, as in torch
      assert_shape(a:squeeze(-2), { 1, 3, 2 })
    end)

    it("unsqueeze inserts a dim at the given 1-based position", function()
      local v = dagl.tensor { 1, 2, 3 }
      assert_shape(v:unsqueeze(1), { 1, 3 })
      assert_shape(v:unsqueeze(2), { 3, 1 })
      assert_shape(v:unsqueeze(-1), { 3, 1 })
      assert_equal_values(v:unsqueeze(2), { { 1 }, { 2 }, { 3 } })
      local m = iota(2, 3)
      assert_shape(m:unsqueeze(2), { 2, 1, 3 })
      assert_equal_values(m:unsqueeze(2):squeeze(), { { 0, 1, 2 }, { 3, 4, 5 } })
    end)

    it("unsqueeze and squeeze are views", function()
      local v = dagl.zeros(3)
      v:unsqueeze(1)[1][2] = 4
      assert.are.equal(4, v[2])
    end)
  end)

  describe("expand", function()
    it("broadcasts size-1 dims with stride 0", function()
      local c = dagl.tensor { { 1 }, { 2 } }
      local e = c:expand(2, 3)
      assert_shape(e, { 2, 3 })
      assert.are.same({ 1, 0 }, e:stride())
      assert_equal_values(e, { { 1, 1, 1 }, { 2, 2, 2 } })
      local r = dagl.tensor { 1, 2, 3 }:expand(2, 3)
      assert.are.same({ 0, 1 }, r:stride())
      assert_equal_values(r, { { 1, 2, 3 }, { 1, 2, 3 } })
      assert_shape(c:expand({ 4, -1, 5 }), { 4, 2, 5 })
    end)

    it("an expanded tensor shares one element for a whole row", function()
      local c = dagl.tensor { { 1 }, { 2 } }
      local e = c:expand(2, 3)
      c[2][1] = 9
      assert_equal_values(e, { { 1, 1, 1 }, { 9, 9, 9 } })
      assert.is_false(e:is_contiguous())
      local k = e:contiguous()
      assert.are.same({ 3, 1 }, k:stride())
      assert_equal_values(k, { { 1, 1, 1 }, { 9, 9, 9 } })
    end)
  end)

  describe("contiguous and clone", function()
    it("contiguous of a contiguous tensor is the same memory; clone never is", function()
      local a = iota(2, 2)
      local c = a:contiguous()
      c[1][1] = 50
      assert.are.equal(50, a[1][1])
      local k = a:clone()
      k[1][1] = 60
      assert.are.equal(50, a[1][1])
      assert.are.equal(60, k[1][1])
    end)

    it("contiguous of a transpose is a copy in row-major order", function()
      local a = iota(2, 3)
      local c = a:t():contiguous()
      assert.is_true(c:is_contiguous())
      assert.are.same({ 2, 1 }, c:stride())
      assert.are.equal(0, c:storage_offset())
      assert_equal_values(c, { { 0, 3 }, { 1, 4 }, { 2, 5 } })
      assert.are.same({ 0, 3, 1, 4, 2, 5 }, c:view(6):totable())
      c[1][2] = -7
      assert.are.equal(3, a[2][1])
    end)

    it("clone of a strided view keeps the values, not the layout", function()
      local a = iota(4, 4)
      local s = a:slice(1, 1, -1, 2):slice(2, 2, -1, 2)
      assert.are.same({ 8, 2 }, s:stride())
      assert.are.equal(1, s:storage_offset())
      local k = s:clone()
      assert.are.same({ 2, 1 }, k:stride())
      assert.are.equal(0, k:storage_offset())
      assert_equal_values(k, { { 1, 3 }, { 9, 11 } })
    end)
  end)

  describe("dtype conversion", function()
    it("to/float/double/long convert (a copy), or return the same tensor", function()
      local a = dagl.tensor { 1.5, -2.5, 3 }
      local l = a:long()
      assert.are.equal("int64", l:dtype())
      assert.are.same({ 1, -2, 3 }, l:totable())
      local d = a:to("float64")
      assert.are.equal("float64", d:dtype())
      d[1] = 0
      assert.are.equal(1.5, a[1])
      assert.are.equal(rawequal(a, a:float()), true)
      assert.are.equal("float32", l:float():dtype())
      assert.are.equal("float64", l:double():dtype())
    end)
  end)

  describe("strides and offsets", function()
    it("reports row-major strides and offset 0 for fresh tensors", function()
      assert.are.same({ 12, 4, 1 }, dagl.zeros(2, 3, 4):stride())
      assert.are.equal(0, dagl.zeros(2, 3, 4):storage_offset())
      assert.are.same({}, dagl.zeros({}):stride())
    end)

    it("offsets of row views", function()
      local a = iota(3, 4)
      assert.are.equal(8, a[3]:storage_offset())
      assert.are.equal(4, a[-2]:storage_offset())
      assert.are.equal(9, a[3]:slice(1, 2):storage_offset())
    end)

    it("keeps the base alive while a view exists", function()
      local v
      do
        local a = iota(100)
        v = a:slice(1, 51, 52)
      end
      collectgarbage()
      collectgarbage()
      assert_equal_values(v, { 50, 51 })
    end)
  end)
end)
