-- tensor_ops_spec.lua -- arithmetic, broadcasting, elementwise functions, comparisons, where,
-- reductions and matmul, against hand-computed values and algebraic identities.
local dagl = require "dagl"

local function X() return dagl.tensor { { 1, 2, 3 }, { 4, 5, 6 } } end

-- Plain-Lua matrix product of nested tables (double precision reference).
local function ref_matmul(a, b)
  local out = {}
  for i = 1, #a do
    out[i] = {}
    for j = 1, #b[1] do
      local s = 0
      for k = 1, #b do s = s + a[i][k] * b[k][j] end
      out[i][j] = s
    end
  end
  return out
end

describe("tensor operations", function()
  describe("arithmetic operators", function()
    it("tensor op number and number op tensor", function()
      local x = X()
      assert_equal_values(x + 1, { { 2, 3, 4 }, { 5, 6, 7 } })
      assert_equal_values(1 + x, { { 2, 3, 4 }, { 5, 6, 7 } })
      assert_equal_values(x - 1, { { 0, 1, 2 }, { 3, 4, 5 } })
      assert_equal_values(10 - x, { { 9, 8, 7 }, { 6, 5, 4 } })
      assert_equal_values(x * 2, { { 2, 4, 6 }, { 8, 10, 12 } })
      assert_equal_values(3 * x, { { 3, 6, 9 }, { 12, 15, 18 } })
      assert_equal_values(x / 2, { { 0.5, 1, 1.5 }, { 2, 2.5, 3 } })
      assert_close(6 / x, { { 6, 3, 2 }, { 1.5, 1.2, 1 } })
      assert_equal_values(x ^ 2, { { 1, 4, 9 }, { 16, 25, 36 } })
      assert_equal_values(2 ^ x, { { 2, 4, 8 }, { 16, 32, 64 } })
      assert_equal_values(-x, { { -1, -2, -3 }, { -4, -5, -6 } })
      assert_close(x ^ 0.5, { { 1, math.sqrt(2), math.sqrt(3) }, { 2, math.sqrt(5), math.sqrt(6) } })
    end)

    it("tensor op tensor, elementwise", function()
      local x = X()
      local y = dagl.tensor { { 6, 5, 4 }, { 3, 2, 1 } }
      assert_equal_values(x + y, { { 7, 7, 7 }, { 7, 7, 7 } })
      assert_equal_values(x - y, { { -5, -3, -1 }, { 1, 3, 5 } })
      assert_equal_values(x * y, { { 6, 10, 12 }, { 12, 10, 6 } })
      assert_close(x / y, { { 1 / 6, 0.4, 0.75 }, { 4 / 3, 2.5, 6 } })
      assert_equal_values(x ^ y, { { 1, 32, 81 }, { 64, 25, 6 } })
      assert_equal_values(x:maximum(y), { { 6, 5, 4 }, { 4, 5, 6 } })
      assert_equal_values(x:minimum(y), { { 1, 2, 3 }, { 3, 2, 1 } })
    end)

    it("has method and module-function forms", function()
      local x = X()
      assert_equal_values(x:add(1), (x + 1):totable())
      assert_equal_values(dagl.sub(1, x), { { 0, -1, -2 }, { -3, -4, -5 } })
      assert_equal_values(dagl.mul(x, x), { { 1, 4, 9 }, { 16, 25, 36 } })
      assert_equal_values(x:neg(), { { -1, -2, -3 }, { -4, -5, -6 } })
      assert_equal_values(x:pow(2):div(x), x:totable())
    end)

    it("does not modify its operands", function()
      local x = X()
      local _ = x + 1, x * x, -x, x:exp()
      assert_equal_values(x, { { 1, 2, 3 }, { 4, 5, 6 } })
    end)

    it("follows IEEE rules for division by zero, log 0, sqrt of negatives", function()
      local z = dagl.tensor { 1, -1, 0 }
      assert_close(z / 0, { math.huge, -math.huge, 0 / 0 })
      assert_close(dagl.tensor({ 0, 1 }):log(), { -math.huge, 0 })
      assert_close(dagl.tensor({ -1, 4 }):sqrt(), { 0 / 0, 2 })
    end)

    it("works on non-contiguous operands", function()
      local x = X()
      assert_equal_values(x:t() + 1, { { 2, 5 }, { 3, 6 }, { 4, 7 } })
      assert_equal_values(x:t() * x:t(), { { 1, 16 }, { 4, 25 }, { 9, 36 } })
      assert_equal_values(x:select(2, 2) - x:select(2, 1), { 1, 1 })
      local e = dagl.tensor({ { 1 }, { 2 } }):expand(2, 3)
      assert_equal_values(e + x, { { 2, 3, 4 }, { 6, 7, 8 } })
    end)

    it("promotes dtypes: int64 < float32 < float64", function()
      local i = dagl.tensor({ 1, 2 }, "int64")
      local f = dagl.tensor { 1, 2 }
      local d = dagl.tensor({ 1, 2 }, "float64")
      assert.are.equal("int64", (i + i):dtype())
      assert.are.equal("int64", (i * 3):dtype())
      assert.are.same({ 3, 6 }, (i * 3):totable())
      assert.are.equal("float32", (i + f):dtype())
      assert.are.equal("float64", (f + d):dtype())
      assert.are.equal("float64", (i + d):dtype())
      assert.are.equal("float32", (i + 0.5):dtype())
      assert_close(i + 0.5, { 1.5, 2.5 })
      assert.are.equal("float64", (d * 2):dtype())
      -- float64 keeps precision float32 loses
      assert.are.equal(1 + 1e-10, ((d - d) + 1 + 1e-10)[1])
    end)
  end)

  describe("broadcasting", function()
    it("a row against a matrix", function()
      local x = X()
      assert_equal_values(x + dagl.tensor { 10, 20, 30 }, { { 11, 22, 33 }, { 14, 25, 36 } })
      assert_equal_values(dagl.tensor { 10, 20, 30 } - x, { { 9, 18, 27 }, { 6, 15, 24 } })
    end)

    it("a column against a matrix", function()
      local x = X()
      assert_equal_values(x + dagl.tensor { { 100 }, { 200 } }, { { 101, 102, 103 }, { 204, 205, 206 } })
      assert_close(x / dagl.tensor { { 1 }, { 2 } }, { { 1, 2, 3 }, { 2, 2.5, 3 } })
    end)

    it("a column against a row: the outer product", function()
      local col = dagl.tensor { { 1 }, { 2 }, { 3 } }
      local row = dagl.tensor { { 10, 20 } }
      local o = col * row
      assert_shape(o, { 3, 2 })
      assert_equal_values(o, { { 10, 20 }, { 20, 40 }, { 30, 60 } })
      assert_equal_values(dagl.arange(1, 4):unsqueeze(2) + dagl.arange(2), { { 1, 2 }, { 2, 3 }, { 3, 4 } })
    end)

    it("a 0-d tensor against anything, and leading dims", function()
      local x = X()
      assert_equal_values(x * dagl.tensor(2), { { 2, 4, 6 }, { 8, 10, 12 } })
      local b = dagl.ones(4, 1, 3) + x
      assert_shape(b, { 4, 2, 3 })
      assert_equal_values(b[4], { { 2, 3, 4 }, { 5, 6, 7 } })
    end)
  end)

  describe("elementwise functions", function()
    it("exp, log, sqrt, abs", function()
      local v = dagl.tensor { 0, 1, 2 }
      assert_close(v:exp(), { 1, math.exp(1), math.exp(2) })
      assert_close(dagl.tensor({ 1, math.exp(1), 10 }):log(), { 0, 1, math.log(10) })
      assert_close(dagl.tensor({ 0, 4, 2 }):sqrt(), { 0, 2, math.sqrt(2) })
      assert_equal_values(dagl.tensor({ -1.5, 0, 2 }):abs(), { 1.5, 0, 2 })
      assert_close(dagl.exp(v):log(), { 0, 1, 2 })
    end)

    it("tanh, sigmoid, relu", function()
      local v = dagl.tensor { -2, 0, 1 }
      assert_close(v:tanh(), { -0.9640275800758169, 0, 0.7615941559557649 })
      assert_close(v:sigmoid(), { 0.11920292202211755, 0.5, 0.7310585786300049 })
      assert_equal_values(v:relu(), { 0, 0, 1 })
      -- sigmoid saturates without NaN at large |x|
      assert_close(dagl.tensor({ -100, 100 }):sigmoid(), { 0, 1 }, 1e-6)
      assert_close(dagl.tensor({ -100, 100 }):tanh(), { -1, 1 })
    end)

    it("float64 functions are accurate to double precision", function()
      local d = dagl.tensor({ 0.5 }, "float64")
      assert_close(d:exp(), { math.exp(0.5) }, 1e-15)
      assert_close(d:tanh(), { 0.46211715726000974 }, 1e-15)
      assert_close(d:sin(), { math.sin(0.5) }, 1e-15)
      assert_close(d:cos(), { math.cos(0.5) }, 1e-15)
    end)

    it("floor_divide and remainder (// and %) follow Python and Lua, int64 and float", function()
      local a, b = dagl.tensor({ 7, -7, 7, -7, 0 }, "int64"), dagl.tensor({ 2, 2, -2, -2, 3 }, "int64")
      local want_q, want_r = {}, {}
      for i, x in ipairs { 7, -7, 7, -7, 0 } do
        local y = ({ 2, 2, -2, -2, 3 })[i]
        want_q[i], want_r[i] = x // y, x % y
      end
      local q, r = a // b, a % b
      assert.equal("int64", q:dtype())
      assert_equal_values(q, want_q)
      assert_equal_values(r, want_r)
      assert_equal_values(a:floor_divide(b) * b + a:remainder(b), { 7, -7, 7, -7, 0 })
      -- floats: Lua's own // and % on the same numbers, numbers on either side
      local xs, ys = { 7.5, -7.5, 7.5, -7.5, 1e-3 }, { 2, 2, -2, -2, 0.1 }
      local f, g = dagl.tensor(xs), dagl.tensor(ys)
      local fq, fr = f // g, dagl.remainder(f, g)
      for i = 1, #xs do
        assert.equal(xs[i] // ys[i], fq[i])
        assert.near(xs[i] % ys[i], fr[i], 1e-6)
      end
      assert_equal_values(10 // dagl.tensor({ 3, 4 }, "int64"), { 3, 2 })
      assert_equal_values(dagl.tensor({ 5, -5 }, "int64") % 3, { 2, 1 })
      -- a zero divisor: int64 raises (eagerly and traced alike), floats give inf / NaN
      assert_raises(function() return a // 0 end, "floor_divide: integer division by zero")
      assert_raises(function() return a % dagl.tensor({ 1, 1, 0, 1, 1 }, "int64") end,
        "remainder: integer division by zero", "element 2, 0-based")
      assert_raises(function() return dagl.fn(function(x, y) return x // y end)(a, a * 0) end,
        "floor_divide: integer division by zero")
      local z = dagl.tensor { 1, -1 } // 0
      assert.equal(math.huge, z[1])
      assert.equal(-math.huge, z[2])
      local n = (dagl.tensor({ 1 }) % 0)[1]
      assert.is_true(n ~= n)
    end)

    it("sin and cos in radians; int64 computes in float32", function()
      local v = dagl.tensor { 0, math.pi / 2, math.pi, -math.pi / 6 }
      assert_close(v:sin(), { 0, 1, 0, -0.5 }, 1e-6)
      assert_close(dagl.cos(v), { 1, 0, -1, math.sqrt(3) / 2 }, 1e-6)
      local i = dagl.tensor({ 0, 1 }, "int64"):sin()
      assert.equal("float32", i:dtype())
      assert_close(i, { 0, math.sin(1) }, 1e-6)
    end)

    it("softmax and log_softmax along a dim, stable for large inputs", function()
      local e1, e2, e3 = math.exp(1), math.exp(2), math.exp(3)
      local s = e1 + e2 + e3
      local v = dagl.tensor { { 1, 2, 3 }, { 1001, 1002, 1003 } }
      assert_close(v:softmax(), { { e1 / s, e2 / s, e3 / s }, { e1 / s, e2 / s, e3 / s } }, 1e-6)
      assert_close(v:log_softmax(2), { { 1 - math.log(s), 2 - math.log(s), 3 - math.log(s) },
                                       { 1 - math.log(s), 2 - math.log(s), 3 - math.log(s) } }, 1e-5)
      -- along dim 1 each column's pair differs by 1000: all weight on the second row
      assert_close(v:softmax(1), { { 0, 0, 0 }, { 1, 1, 1 } }, 1e-6)
      assert_close(v:log_softmax(-2), { { -1000, -1000, -1000 }, { 0, 0, 0 } }, 1e-3)
      local d = dagl.tensor({ { 0.5, -1 } }, "float64")
      local z = math.exp(0.5) + math.exp(-1)
      assert_close(d:softmax(2), { { math.exp(0.5) / z, math.exp(-1) / z } }, 1e-15)
      assert_close(dagl.tensor({ 1, 1, 1, 1 }, "int64"):softmax(), { 0.25, 0.25, 0.25, 0.25 })
      -- a transposed (non-contiguous) input gives the transposed result
      local m = dagl.randn(4, 5)
      assert_close(m:t():softmax(1), m:softmax(2):t():totable(), 1e-6)
      assert.has_error(function() m:softmax(3) end)
    end)

    it("clamp with both bounds, one bound or nil", function()
      local v = dagl.tensor { -1, 0.5, 3 }
      assert_equal_values(v:clamp(0, 1), { 0, 0.5, 1 })
      assert_equal_values(v:clamp(0), { 0, 0.5, 3 })
      assert_equal_values(v:clamp(nil, 0), { -1, 0, 0 })
      assert_equal_values(v:clamp(), { -1, 0.5, 3 })
    end)
  end)

  describe("comparisons and where", function()
    it("gives 1/0 tensors", function()
      local a, b = dagl.tensor { 1, 2, 3 }, dagl.tensor { 3, 2, 1 }
      assert_equal_values(a:lt(b), { 1, 0, 0 })
      assert_equal_values(a:le(b), { 1, 1, 0 })
      assert_equal_values(a:gt(b), { 0, 0, 1 })
      assert_equal_values(a:ge(b), { 0, 1, 1 })
      assert_equal_values(a:eq(b), { 0, 1, 0 })
      assert_equal_values(a:ne(b), { 1, 0, 1 })
      assert_equal_values(a:gt(1.5), { 0, 1, 1 })
      assert_equal_values(dagl.lt(1.5, a), { 0, 1, 1 })
      assert_equal_values(X():ge(dagl.tensor { { 2 }, { 5 } }), { { 0, 1, 1 }, { 0, 1, 1 } })
    end)

    it("counts with sum of a comparison", function()
      assert.are.equal(4, dagl.arange(10):lt(4):sum():item())
    end)

    it("where(cond, a, b) picks elementwise, with broadcasting and numbers", function()
      local a = dagl.tensor { -1, 2, -3, 4 }
      assert_equal_values(dagl.where(a:gt(0), a, 0), { 0, 2, 0, 4 })
      assert_equal_values(dagl.where(a:gt(0), 1, -1), { -1, 1, -1, 1 })
      assert_equal_values(dagl.where(a:lt(0), a:neg(), a), { 1, 2, 3, 4 })
      local c = dagl.tensor { { 1 }, { 0 } }
      assert_equal_values(dagl.where(c, dagl.tensor { 1, 2 }, dagl.tensor { 10, 20 }), { { 1, 2 }, { 10, 20 } })
    end)
  end)

  describe("reductions", function()
    it("sum over everything, a dim, dims, with keepdim", function()
      local x = X()
      local s = x:sum()
      assert.are.equal(0, s:dim())
      assert.are.equal(21, s:item())
      assert_equal_values(x:sum(1), { 5, 7, 9 })
      assert_equal_values(x:sum(2), { 6, 15 })
      assert_equal_values(x:sum(-1), { 6, 15 })
      assert_equal_values(x:sum(2, true), { { 6 }, { 15 } })
      assert_equal_values(x:sum(1, true), { { 5, 7, 9 } })
      assert.are.equal(21, x:sum({ 1, 2 }):item())
      assert_shape(x:sum({ 1, 2 }, true), { 1, 1 })
      assert_equal_values(dagl.sum(x, 1), { 5, 7, 9 })
    end)

    it("reduces several dims of a 3-d tensor", function()
      local z = dagl.arange(24):reshape(2, 3, 4)
      local s = z:sum({ 1, 3 }, true)
      assert_shape(s, { 1, 3, 1 })
      -- row j of both blocks: sum over i, k of 12 i + 4 j + k
      assert_equal_values(s, { { { 60 }, { 92 }, { 124 } } })
      assert_equal_values(z:sum({ 3, 1 }), { 60, 92, 124 })
      assert_equal_values(z:sum(2), { { 12, 15, 18, 21 }, { 48, 51, 54, 57 } })
    end)

    it("reduces non-contiguous views", function()
      local x = X()
      assert_equal_values(x:t():sum(1), { 6, 15 })
      assert_equal_values(x:t():sum(2), { 5, 7, 9 })
      assert_equal_values(x:slice(2, 2, 3):sum(1), { 7, 9 })
      assert_equal_values(dagl.tensor({ 1, 2 }):expand(3, 2):sum(1), { 3, 6 })
    end)

    it("mean, max, min", function()
      local x = X()
      assert.are.equal(3.5, x:mean():item())
      assert_equal_values(x:mean(1), { 2.5, 3.5, 4.5 })
      assert_equal_values(x:mean(2, true), { { 2 }, { 5 } })
      local y = dagl.tensor { { 1, 9, 3 }, { 7, 2, 8 } }
      assert.are.equal(9, y:max():item())
      assert.are.equal(1, y:min():item())
      assert_equal_values(y:max(1), { 7, 9, 8 })
      assert_equal_values(y:max(2), { 9, 8 })
      assert_equal_values(y:min(2, true), { { 1 }, { 2 } })
      assert_equal_values(dagl.tensor({ -5, -2, -9 }):max(), -2)
    end)

    it("argmax and argmin give 1-based int64 indices (Torch7 style)", function()
      local y = dagl.tensor { { 1, 9, 3 }, { 7, 2, 8 } }
      local am = y:argmax(2)
      assert.are.equal("int64", am:dtype())
      assert.are.same({ 2, 3 }, am:totable())
      assert.are.same({ 2, 1, 2 }, y:argmax(1):totable())
      assert.are.same({ 1, 2 }, y:argmin(2):totable())
      assert.are.same({ { 1 }, { 2 } }, y:argmin(2, true):totable())
      -- over everything: the flat (row-major) index
      assert.are.equal(2, y:argmax():item())
      assert.are.equal(1, y:argmin():item())
      local v = dagl.tensor { 3, 1, 4, 1, 5, 9, 2, 6 }
      assert.are.equal(6, v:argmax():item())
      assert.are.equal(9, v[v:argmax():item()])
    end)

    it("var with the unbiased default, correction 0, keepdim", function()
      local x = X()
      assert.are.equal(3.5, x:var():item())
      assert_equal_values(x:var(1), { 4.5, 4.5, 4.5 })
      assert_equal_values(x:var(2), { 1, 1 })
      assert_close(x:var(2, false, 0), { 2 / 3, 2 / 3 })
      assert_close(x:var(2, true, 0), { { 2 / 3 }, { 2 / 3 } })
    end)

    it("takes keepdim and correction as options too, and refuses what is not a flag", function()
      local x = X()
      assert.same({ 2, 1 }, x:sum(2, { keepdim = true }).shape)
      assert.same({ 1, 3 }, dagl.mean(x, 1, { keepdim = true }).shape)
      assert.same({ 2, 1 }, x:argmax(2, { keepdim = true }).shape)
      assert_close(x:var(2, { correction = 0 }), { 2 / 3, 2 / 3 })
      assert_close(x:var(2, { unbiased = false, keepdim = true }), { { 2 / 3 }, { 2 / 3 } })
      assert_equal_values(x:var(2, { unbiased = true }), { 1, 1 })
      local f = dagl.fn(function(a) return a:var(2, { correction = 0 }) end)
      assert.same(x:var(2, { correction = 0 }):totable(), f(x):totable())
      for _, g in ipairs { function(a) return a:sum(2, { keepdims = true }) end, function(a) return a:var(2, { corection = 0 }) end } do
        assert_raises(function() return g(x) end, "unknown option", "did you mean")
        assert_raises(function() return dagl.fn(g)(x) end, "unknown option", "did you mean")
      end
      assert_raises(function() return x:sum(2, 1) end, "sum: keepdim must be true or false, got a number")
      assert_raises(function() return x:var(2, { correction = 0, unbiased = false }) end, "not both")
      assert_raises(function() return x:sum(2, { correction = 0 }) end, "unknown option 'correction'")
    end)

    it("satisfies sum(x) == sum of row sums and var == mean((x-mean)^2) n/(n-1)", function()
      dagl.manual_seed(5)
      local x = dagl.randn(7, 13, "float64")
      assert_close(x:sum():item(), x:sum(2):sum():item(), 1e-12)
      assert_close(x:sum():item(), x:sum(1):sum():item(), 1e-12)
      local n = x:numel()
      local v = ((x - x:mean()) ^ 2):mean():item() * n / (n - 1)
      assert_close(x:var():item(), v, 1e-12)
      -- per row, with keepdim to broadcast back
      local r = ((x - x:mean(2, true)) ^ 2):sum(2) / (13 - 1)
      assert_close(x:var(2), r:totable(), 1e-12)
      -- float32 agrees with float64 closely
      local f = x:float()
      assert_close(f:var():item(), x:var():item(), 1e-5)
    end)

    it("sums many float32 numbers without large error", function()
      local n = 1000000
      local s = dagl.full({ n }, 0.1):sum():item()
      assert_close(s, 0.1 * n, 1e-4)
    end)
  end)

  describe("matmul", function()
    local A = { { 1, 2 }, { 3, 4 } }
    local B = { { 5, 6 }, { 7, 8 } }

    it("2-D by 2-D", function()
      assert_equal_values(dagl.tensor(A):matmul(dagl.tensor(B)), { { 19, 22 }, { 43, 50 } })
      assert_equal_values(dagl.tensor(B):matmul(dagl.tensor(A)), { { 23, 34 }, { 31, 46 } })
      local P = dagl.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
      local Q = dagl.tensor { { 7, 8 }, { 9, 10 }, { 11, 12 } }
      local PQ = dagl.matmul(P, Q)
      assert_shape(PQ, { 2, 2 })
      assert_equal_values(PQ, { { 58, 64 }, { 139, 154 } })
      assert_equal_values(Q:matmul(P), { { 39, 54, 69 }, { 49, 68, 87 }, { 59, 82, 105 } })
    end)

    it("1-D operands: dot, matrix-vector, vector-matrix", function()
      local a, v = dagl.tensor(A), dagl.tensor { 1, 1 }
      local dot = dagl.tensor({ 1, 2, 3 }):matmul(dagl.tensor { 4, 5, 6 })
      assert.are.equal(0, dot:dim())
      assert.are.equal(32, dot:item())
      local av = a:matmul(v)
      assert_shape(av, { 2 })
      assert_equal_values(av, { 3, 7 })
      local va = v:matmul(a)
      assert_shape(va, { 2 })
      assert_equal_values(va, { 4, 6 })
    end)

    it("batched, with broadcast batch dims", function()
      local a = dagl.tensor(A)
      local batch = dagl.tensor { A, { { 2, 4 }, { 6, 8 } } }
      local r = batch:matmul(dagl.tensor(B))
      assert_shape(r, { 2, 2, 2 })
      assert_equal_values(r, { { { 19, 22 }, { 43, 50 } }, { { 38, 44 }, { 86, 100 } } })
      -- matrix times a batch
      local l = a:matmul(dagl.tensor { B, A })
      assert_equal_values(l, { { { 19, 22 }, { 43, 50 } }, { { 7, 10 }, { 15, 22 } } })
      -- batch dims broadcast: {2,1,2,3} x {4,3,2} -> {2,4,2,2}
      dagl.manual_seed(3)
      local p = dagl.randn(2, 1, 2, 3)
      local q = dagl.randn(4, 3, 2)
      local pq = p:matmul(q)
      assert_shape(pq, { 2, 4, 2, 2 })
      for i = 1, 2 do
        for j = 1, 4 do
          assert_close(pq[i][j], ref_matmul(p[i][1]:totable(), q[j]:totable()), 1e-5)
        end
      end
      -- a batch of matrices times a vector
      assert_equal_values(batch:matmul(dagl.tensor { 1, 0 }), { { 1, 3 }, { 2, 6 } })
    end)

    it("a permuted batch times one matrix (attention's [seq, batch, d] input): one product, the same values", function()
      dagl.manual_seed(12)
      local x = dagl.randn(3, 5, 4):permute(2, 1, 3) -- [5, 3, 4], its batches do not fold
      local w = dagl.randn(4, 6)
      local y = x:matmul(w)
      assert_shape(y, { 5, 3, 6 })
      for i = 1, 5 do assert_close(y[i], ref_matmul(x[i]:totable(), w:totable()), 1e-5) end
      -- bitwise the product of the contiguous copy, eager and traced
      assert.are.equal(0, (y - x:contiguous():matmul(w)):abs():max():item())
      local f = dagl.fn(function(a) return a:matmul(w) end)
      assert.are.equal(0, (f(x) - y):abs():max():item())
    end)

    it("matches a plain Lua product for odd sizes and transposed inputs", function()
      dagl.manual_seed(11)
      local a = dagl.randn(17, 33)
      local b = dagl.randn(33, 9)
      assert_close(a:matmul(b), ref_matmul(a:totable(), b:totable()), 1e-4)
      local bt = dagl.randn(9, 33)
      assert_close(a:matmul(bt:t()), ref_matmul(a:totable(), bt:t():totable()), 1e-4)
      local at = dagl.randn(33, 17)
      assert_close(at:t():matmul(b), ref_matmul(at:t():totable(), b:totable()), 1e-4)
      local s = dagl.randn(40, 40):slice(1, 2, 35, 3):slice(2, 1, 33) -- strided rows
      assert_close(s:matmul(b), ref_matmul(s:totable(), b:totable()), 1e-4)
    end)

    it("satisfies (A B)^T = B^T A^T and A I = A", function()
      dagl.manual_seed(21)
      local a, b = dagl.randn(3, 4), dagl.randn(4, 5)
      local lhs = a:matmul(b):t()
      local rhs = b:t():matmul(a:t())
      assert_shape(rhs, { 5, 3 })
      assert_close(lhs, rhs:totable(), 1e-5)
      local eye = dagl.zeros(4, 4)
      for i = 1, 4 do eye[i][i] = 1 end
      assert_close(a:matmul(eye), a:totable(), 0)
      -- distributive: A (B + C) = A B + A C
      local c = dagl.randn(4, 5)
      assert_close(a:matmul(b + c), (a:matmul(b) + a:matmul(c)):totable(), 1e-5)
    end)

    it("works in float64", function()
      local a = dagl.tensor({ { 1, 2 }, { 3, 4 } }, "float64")
      local b = dagl.tensor({ { 0.1 }, { 0.2 } }, "float64")
      local r = a:matmul(b)
      assert.are.equal("float64", r:dtype())
      assert_close(r, { { 0.5 }, { 1.1 } }, 1e-15)
    end)
  end)
end)
