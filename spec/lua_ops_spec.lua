-- lua_ops_spec.lua -- the ops written in Lua over the core (lua/dagl/lua_ops.lua): stack,
-- cat, split, chunk, std, tril, triu. Values against plain Lua, the same bits eagerly and traced,
-- gradients against finite differences, and the errors.
local dagl = require "dagl"

-- The tensors of a packed list of results, lists of tensors (split, chunk) spread out.
local function flatten(r)
  local flat = {}
  for i = 1, r.n do
    local v = r[i]
    if type(v) == "table" and not dagl.is_tensor(v) and not dagl.is_symbol(v) then
      for _, p in ipairs(v) do flat[#flat + 1] = p end
    else
      flat[#flat + 1] = v
    end
  end
  return flat
end

-- f(...) eagerly and inside dagl.fn must give the same tensors (bitwise) or lists of them.
local function same_traced(f, ...)
  local flat = flatten(table.pack(f(...)))
  local traced = table.pack(dagl.fn(function(...) return table.unpack(flatten(table.pack(f(...)))) end)(...))
  assert.equal(#flat, traced.n)
  for i, e in ipairs(flat) do
    assert.same(e.shape, traced[i].shape)
    assert.equal(e:dtype(), traced[i]:dtype())
    assert.same(e:totable(), traced[i]:totable())
  end
  return flat
end

-- dagl.grad(f) against central differences for every argument (float64).
local function check_grad(f, ...)
  local args = { ... }
  local res = { dagl.grad(f)(...) }
  for i = 1, #args do
    local want = numeric_grad(function() return f(table.unpack(args)) end, args[i])
    local err = (res[i + 1] - want):abs():max():item()
    assert.is_true(err <= 1e-6 * (1 + want:abs():max():item()), ("argument %d: max error %g"):format(i, err))
  end
end

local function r(...) return dagl.randn({ ... }, "float64") end

describe("Lua-level tensor ops", function()
  it("stack joins equal shapes along a new dim, any position", function()
    local a, b = dagl.tensor { { 1, 2 }, { 3, 4 } }, dagl.tensor { { 5, 6 }, { 7, 8 } }
    assert_equal_values(dagl.stack { a, b }, { { { 1, 2 }, { 3, 4 } }, { { 5, 6 }, { 7, 8 } } })
    assert_equal_values(dagl.stack({ a, b }, 2), { { { 1, 2 }, { 5, 6 } }, { { 3, 4 }, { 7, 8 } } })
    assert_equal_values(dagl.stack({ a, b }, -1), { { { 1, 5 }, { 2, 6 } }, { { 3, 7 }, { 4, 8 } } })
    assert.same({ 2, 2, 2 }, dagl.stack({ a, b }, 3).shape)
    same_traced(function(x, y) return dagl.stack({ x, y }, 2), dagl.stack({ x, y, x }, -1) end, a, b)
    -- more than the 8 sources a graph node takes
    local many = {}
    for i = 1, 11 do many[i] = dagl.full({ 2 }, i) end
    assert.same({ 11, 2 }, dagl.stack(many).shape)
    same_traced(function(...) return dagl.stack({ ... }) end, table.unpack(many))
    check_grad(function(x, y) return (dagl.stack({ x, y }, 2) * dagl.arange(12):reshape(2, 2, 3):double()):sum() end,
      r(2, 3), r(2, 3))
  end)

  it("cat is concat", function()
    local a, b = dagl.tensor { { 1, 2 } }, dagl.tensor { { 3, 4 }, { 5, 6 } }
    assert_equal_values(dagl.cat { a, b }, { { 1, 2 }, { 3, 4 }, { 5, 6 } })
    assert_equal_values(dagl.cat({ b, b }, 2), { { 3, 4, 3, 4 }, { 5, 6, 5, 6 } })
  end)

  it("split by a size or by sizes, chunk by a count: views, as torch.split and torch.chunk", function()
    local t = dagl.arange(14):reshape(2, 7)
    local shapes = function(list)
      local s = {}
      for i, p in ipairs(list) do s[i] = p.shape[2] end
      return s
    end
    assert.same({ 3, 3, 1 }, shapes(t:split(3, 2)))
    assert.same({ 2, 0, 5 }, shapes(t:split({ 2, 0, 5 }, 2)))
    assert.same({ 3, 3, 1 }, shapes(t:chunk(3, 2)))
    assert.same({ 2, 2, 2, 1 }, shapes(dagl.chunk(t, 4, -1)))
    assert.same({ 1, 1, 1, 1, 1, 1, 1 }, shapes(t:chunk(10, 2))) -- fewer pieces than asked, as torch
    local parts = t:split(3, 2)
    assert_equal_values(parts[3], { { 6 }, { 13 } })
    parts[1]:fill(-1) -- views: writing a piece writes t
    assert.equal(-1, t[1][1])
    assert.same({ 1, 7 }, t:split(1)[2].shape)
    same_traced(function(x) return x:split({ 1, 6 }, 2), x:chunk(2, 2) end, dagl.arange(14):reshape(2, 7))
    check_grad(function(x)
      local p = x:chunk(3, 2)
      return (p[1] * 2):sum() + (p[2]:exp()):sum() - (p[3] * p[3]):sum()
    end, r(2, 7))
  end)

  it("std is the square root of var, with var's arguments", function()
    local t = dagl.tensor { { 1, 2, 3, 4 }, { 2, 4, 6, 9 } }
    local function ref(row, corr)
      local m, s = 0, 0
      for _, v in ipairs(row) do m = m + v end
      m = m / #row
      for _, v in ipairs(row) do s = s + (v - m) ^ 2 end
      return math.sqrt(s / (#row - corr))
    end
    assert_close(t:std(2), { ref({ 1, 2, 3, 4 }, 1), ref({ 2, 4, 6, 9 }, 1) }, 1e-6)
    assert_close(dagl.std(t, 2, { correction = 0 }), { ref({ 1, 2, 3, 4 }, 0), ref({ 2, 4, 6, 9 }, 0) }, 1e-6)
    assert.same({ 2, 1 }, t:std(2, { keepdim = true }).shape)
    assert_close(t:std(), ref({ 1, 2, 3, 4, 2, 4, 6, 9 }, 1), 1e-6)
    same_traced(function(x) return x:std(2), x:std(1, true, 0) end, t)
    check_grad(function(x) return x:std(2):sum() + x:std({ 1, 2 }, { correction = 0 }) end, r(3, 4))
  end)

  it("tril and triu keep a triangle of the last two dims, with a diagonal offset", function()
    local t = dagl.arange(1, 13):reshape(3, 4)
    for _, k in ipairs { -1, 0, 1, 3 } do
      local lo, up = t:tril(k), t:triu(k)
      for i = 1, 3 do
        for j = 1, 4 do
          local v = (i - 1) * 4 + j
          assert.equal(j - i <= k and v or 0, lo[i][j])
          assert.equal(j - i >= k and v or 0, up[i][j])
        end
      end
    end
    -- leading dims broadcast; int64 stays int64; infinities above the diagonal become zeros
    local b = dagl.ones(2, 3, 3):tril()
    assert_equal_values(b:sum({ 2, 3 }), { 6, 6 })
    assert.equal("int64", dagl.ones({ 2, 2 }, "int64"):triu():dtype())
    assert_equal_values(dagl.full({ 2, 2 }, -math.huge):triu(1), { { 0, -math.huge }, { 0, 0 } })
    same_traced(function(x) return x:tril(), x:triu(-1), dagl.tril(x, 2) end, dagl.randn(2, 3, 4))
    check_grad(function(x) return (x:tril() * x):sum() + x:triu(1):exp():sum() end, r(3, 3))
  end)

  it("einsum contracts like torch.einsum: matmuls, attention, dots, outer products, sums, ...", function()
    local a, b = r(3, 4), r(4, 5)
    local q, k = r(2, 3, 5, 8), r(2, 3, 6, 8)
    local v = r(4)
    local function near(x, y) assert.is_true((x - y):abs():max():item() < 1e-12) end
    near(dagl.einsum("ij,jk->ik", a, b), a:matmul(b))
    near(dagl.einsum("ij, jk", a, b), a:matmul(b)) -- implicit output, spaces
    near(dagl.einsum("bhqd,bhkd->bhqk", q, k), q:matmul(k:transpose(3, 4)))
    near(dagl.einsum("...qd,...kd->...qk", q, k), q:matmul(k:transpose(3, 4)))
    near(dagl.einsum("i,i->", v, v), (v * v):sum())
    near(dagl.einsum("i,j->ij", v, v), v:reshape(4, 1) * v:reshape(1, 4))
    near(dagl.einsum("ij->ji", a), a:t())
    near(dagl.einsum("ij->j", a), a:sum(1))
    near(dagl.einsum("ij,ij->i", a, a), (a * a):sum(2))
    near(dagl.einsum("ij,jk,kl->il", a, b, r(5, 2):fill(1)), a:matmul(b):sum(2, true):expand(3, 2))
    near(dagl.einsum("ij,kl->", a, b), a:sum() * b:sum())
    near(dagl.einsum("bij,bjk->bik", { r(2, 3, 4):fill(1), r(2, 4, 5):fill(1) }), dagl.full({ 2, 3, 5 }, 4, "float64"))
    same_traced(function(x, y, z) return dagl.einsum("bhqd,bhkd->bhqk", x, y), dagl.einsum("ij->j", z) end, q, k, a)
    check_grad(function(x, y) return dagl.einsum("bij,bkj->bik", x, y):tanh():sum() end, r(2, 3, 4), r(2, 5, 4))
    check_grad(function(x, y) return dagl.einsum("i,j->ij", x, y):sin():sum() end, r(3), r(2))
  end)

  it("cumsum along a dim, from either end, int64 exact", function()
    local t = dagl.tensor { { 1, 2, 3 }, { 4, -5, 6 } }
    assert_equal_values(t:cumsum(2), { { 1, 3, 6 }, { 4, -1, 5 } })
    assert_equal_values(dagl.cumsum(t, 1), { { 1, 2, 3 }, { 5, -3, 9 } })
    assert_equal_values(t:cumsum(-1, { reverse = true }), { { 6, 5, 3 }, { 5, 1, 6 } })
    local big = dagl.full({ 3 }, 2 ^ 62, "int64")
    assert.equal("int64", big:cumsum(1):dtype())
    assert.equal(math.mininteger, big:cumsum(1)[2]) -- 2^63 wraps, as int64 arithmetic does
    assert_equal_values(dagl.ones(0, 3):cumsum(1), {})
    same_traced(function(x) return x:cumsum(2), x:cumsum(1, { reverse = true }) end, r(3, 5))
    check_grad(function(x) return (x:cumsum(2) * x:cumsum(1, { reverse = true })):sum() end, r(3, 4))
  end)

  it("argsort, sort and topk: stable, NaN as the largest, 1-based indices", function()
    local t = dagl.tensor { { 3, 1, 2, 1 }, { 0 / 0, 5, -1, 5 } }
    assert_equal_values(t:argsort(2), { { 2, 4, 3, 1 }, { 3, 2, 4, 1 } })
    assert_equal_values(t:argsort(2, true), { { 1, 3, 2, 4 }, { 1, 2, 4, 3 } })
    local v, i = t:sort(2, { descending = true })
    assert_equal_values(i, { { 1, 3, 2, 4 }, { 1, 2, 4, 3 } })
    assert.is_true(v[2][1] ~= v[2][1]) -- NaN first when descending
    assert_equal_values(v:narrow(1, 1, 1), { { 3, 2, 1, 1 } })
    local tv, ti = t:topk(2)
    assert_equal_values(ti, { { 1, 3 }, { 1, 2 } })
    assert_equal_values(tv:narrow(1, 1, 1), { { 3, 2 } })
    local sv, si = dagl.topk(t, 1, { dim = 1, largest = false })
    assert_equal_values(si, { { 1, 1, 2, 1 } }) -- NaN is the largest, never the smallest
    assert.same({ 1, 4 }, sv.shape)
    -- the values are the elements at the indices, a permutation per line
    local x = dagl.randn(5, 7)
    local xs, xi = x:sort(2)
    assert_equal_values(xs, x:gather(2, xi):totable())
    for row = 1, 5 do
      for c = 2, 7 do assert.is_true(xs[row][c - 1] <= xs[row][c]) end
    end
    assert_equal_values((xi:sort(2)), dagl.arange(1, 8, "int64"):reshape(1, 7):expand(5, 7):totable())
    same_traced(function(y) return y:argsort(1), y:sort(2, true), y:topk(3) end, x)
    check_grad(function(y)
      local a = y:sort(2)
      local b = y:topk(2, { dim = 1 })
      return (a * dagl.arange(6):double()):sum() + (b * b):sum()
    end, r(3, 6))
  end)

  it("gather and scatter_add along a dim, as torch.gather and torch.scatter_add (indices from 1)", function()
    local t = dagl.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
    local idx = dagl.tensor({ { 3, 1 }, { 2, 2 } }, "int64")
    assert_equal_values(t:gather(2, idx), { { 3, 1 }, { 5, 5 } })
    assert_equal_values(dagl.gather(t, 1, dagl.tensor({ { 2, 1, 2 } }, "int64")), { { 4, 2, 6 } })
    local s = dagl.zeros(2, 3):scatter_add(2, idx, dagl.tensor { { 10, 20 }, { 30, 40 } })
    assert_equal_values(s, { { 20, 0, 10 }, { 0, 70, 0 } })
    -- counting with scatter_add: a histogram of labels
    local labels = dagl.tensor({ { 1, 3, 3, 2, 3 } }, "int64")
    assert_equal_values(dagl.zeros({ 1, 3 }, "int64"):scatter_add(2, labels, dagl.ones({ 1, 5 }, "int64")), { { 1, 1, 3 } })
    same_traced(function(a, b) return a:gather(2, b), a:scatter_add(2, b, a:narrow(2, 1, 2)) end, t, idx)
    check_grad(function(a, v) return (a:gather(2, idx):exp()):sum() + (a:scatter_add(2, idx, v) ^ 2):sum() end,
      r(2, 3), r(2, 2))
  end)

  it("cumsum, argsort and scatter_add give the same bits on 1 and 2 threads", function()
    local x = dagl.randn(64, 3000)
    local idx = (x:abs() * 1000):floor_divide(1):to("int64"):remainder(3000) + 1
    local function run()
      return { x:cumsum(2), x:cumsum(1, { reverse = true }), x:argsort(2), dagl.zeros(64, 3000):scatter_add(2, idx, x) }
    end
    local inter = dagl.num_threads()
    dagl.set_threads(1)
    local one = run()
    dagl.set_threads(2)
    local two = run()
    dagl.set_threads(inter)
    for i = 1, #one do assert.is_true(one[i]:eq(two[i]):sum():item() == one[i]:numel(), "result " .. i) end
  end)

  it("names the function and the argument in errors, eagerly and traced alike", function()
    local t = dagl.ones(2, 3)
    local cases = {
      { function(x) return dagl.stack { x, dagl.ones(3, 2) } end, "stack: tensor 2 has shape [3, 2] and tensor 1 has shape [2, 3]" },
      { function(x) return dagl.stack({ x }, 4) end, "stack: dim 4 is out of range for 3 dims" },
      { function(x) return x:split({ 1, 1 }, 2) end, "split: the sizes add up to 2, but dim 2 has 3 elements" },
      { function(x) return x:split(0) end, "split: size must be a positive integer" },
      { function(x) return x:split(1.5) end, "split: size must be an integer, got 1.5" },
      { function(x) return x:chunk(0) end, "chunk: chunks must be a positive integer" },
      { function(x) return x:chunk(2, 3) end, "chunk: dim 3 is out of range for 2 dims" },
      { function(x) return x:tril("1") end, "tril: diagonal must be an integer, got a string" },
      { function(x) return x:sum(2):triu() end, "triu: needs at least 2 dims, got shape [2]" },
      { function(x) return x:std(2, { corection = 0 }) end, "unknown option 'corection' (did you mean 'correction'?" },
      { function(x) return dagl.einsum("ii->i", x:t():matmul(x)) end, "einsum: index 'i' appears twice in operand 1 ('ii')" },
      { function(x) return dagl.einsum("ij,jk->ik", x, x) end, "einsum: index 'j' has size 3 in one operand and 2 in operand 2" },
      { function(x) return dagl.einsum("ij->k", x) end, "einsum: output index 'k' appears in no operand" },
      { function(x) return dagl.einsum("ijk->i", x) end, "einsum: operand 1 has 2 dims but subscripts 'ijk' name 3" },
      { function(x) return dagl.einsum("ij,jk->ik", x) end, "einsum: 'ij,jk->ik' has subscripts for 2 operand(s), got 1" },
      { function(x) return dagl.einsum("i1->i", x) end, "only letters and one '...'" },
      { function(x) return x:cumsum() end, "cumsum: takes the dim to sum along" },
      { function(x) return x:cumsum(2, { reverse = 1 }) end, "cumsum: reverse must be true or false, got a number" },
      { function(x) return x:argsort(3) end, "argsort: dimension 3 out of range for a tensor of shape [2, 3]" },
      { function(x) return x:topk(4) end, "topk: k = 4 is out of range for dim 2 of size 3" },
      { function(x) return x:topk(1, { lagest = false }) end, "topk: unknown option 'lagest' (did you mean 'largest'?" },
      { function(x) return x:gather(2, dagl.tensor({ { 0 } }, "int64")) end, "gather: index 0 along dim 2 is out of range for size 3 (valid: 1..3)" },
      { function(x) return x:gather(2, dagl.tensor({ 1 }, "int64")) end, "gather: indices of shape [1] do not fit a tensor of shape [2, 3]" },
      { function(x) return x:gather(2, dagl.ones(2, 2)) end, "gather: indices must be int64, got float32" },
      { function(x) return x:scatter_add(2, dagl.tensor({ { 1 } }, "int64"), dagl.ones({ 1, 1 }, "float64")) end, "scatter_add: the values are float64 and the tensor float32" },
    }
    for _, c in ipairs(cases) do
      assert_raises(function() return c[1](t) end, c[2])
      assert_raises(function() return dagl.fn(c[1])(t) end, c[2])
    end
    assert_raises(function() return dagl.stack(t) end, "stack: takes a list of tensors")
    assert_raises(function() return dagl.stack {} end, "stack: no tensors to join")
  end)
end)
