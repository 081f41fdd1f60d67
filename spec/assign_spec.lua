-- assign_spec.lua -- dagl.assign / t:assign: eager in-place writes, and assign nodes in traced
-- graphs: ordered after every other read of their target (at 1 and 2 threads), views of the
-- target, several assigns, cycles, bad shapes, and gradients of functions that assign.
local dagl = require "dagl"
local fn = require "dagl.fn"

-- A Lua node that copies its first source after 30 ms (busy, holding the VM lock): a slow reader.
local slow = dagl.luaop{name = "slow_read", forward = function(t)
  local t0 = dagl.wall_time()
  while dagl.wall_time() - t0 < 0.03 do end
  return t:clone()
end}

describe("dagl.assign", function()
  after_each(function() dagl.set_threads(0) end)

  it("writes eagerly in place, converting the dtype, and returns the target", function()
    local w = dagl.tensor{1, 2, 3}
    local view = w:view(3)
    assert.equal(w, dagl.assign(w, dagl.tensor({4.5, 5, 6}, "float64")))
    assert_equal_values(view, {4.5, 5, 6}) -- the same memory
    assert.equal("float32", w:dtype())
    assert.equal(w, w:assign(dagl.tensor{7, 8, 9}))
    assert_equal_values(w, {7, 8, 9})
  end)

  it("copies a value that is a view of the target itself (a transpose) correctly", function()
    local w = dagl.tensor{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
    w:assign(w:t())
    assert_equal_values(w, {{1, 4, 7}, {2, 5, 8}, {3, 6, 9}})
    local m = dagl.tensor{{1, 2}, {3, 4}}
    local f = dagl.fn(function(x) return m:assign(fn.lift(x, m):t()) + x end) -- t:assign(symbol)
    assert_equal_values(f(dagl.zeros(2, 2)), {{1, 3}, {2, 4}}) -- the assign's result is the new value
    assert_equal_values(m, {{1, 3}, {2, 4}})
  end)

  it("rejects a value of another shape, naming the op and both shapes, eagerly and in traces", function()
    local w = dagl.zeros(2, 3)
    assert_raises(function() dagl.assign(w, dagl.zeros(3)) end,
      "assign: the target is float32 [2, 3] and the value float32 [3]: they must have the same shape")
    assert_raises(function() w:assign(dagl.zeros(3, 2)) end, "float32 [2, 3]", "float32 [3, 2]")
    local f = dagl.fn(function(x) return dagl.assign(w, x) end)
    assert_raises(function() f(dagl.zeros(1, 3)) end, "assign: the target is float32 [2, 3] and the value float32 [1, 3]")
    assert_equal_values(w, {{0, 0, 0}, {0, 0, 0}})
    local g = dagl.fn(function(x) return dagl.assign(x, x * 2) end)
    assert_raises(function() g(dagl.zeros(2)) end, "assign: the target must be a real tensor", "traced symbol")
  end)

  it("takes only constants (or views of them) as graph targets", function()
    local g = dagl.graph()
    local x = g:input("float32", {2})
    local y = g:node("neg", {x})
    assert_raises(function() g:node("assign", {x, y}) end, "assign: the target (node 0, an input) must be a constant")
    assert_raises(function() g:node("assign", {y, x}) end, "assign: the target (node 1, neg) must be a constant")
  end)

  it("writes at every run; reads that do not depend on it see the old value", function()
    local w = dagl.tensor{1, 2, 3}
    local f = dagl.fn(function(x)
      local before = (x * w):sum()
      local new = dagl.assign(w, x * -0.5 + w)
      return before, new * 1, x * 0 + w
    end)
    local dot, new, seen = f(dagl.ones(3))
    assert.equal(6, dot:item())
    assert_equal_values(new, {0.5, 1.5, 2.5})
    assert_equal_values(seen, {1, 2, 3})
    assert_equal_values(w, {0.5, 1.5, 2.5})
    dot = f(dagl.ones(3))
    assert.equal(4.5, dot:item())
    assert_equal_values(w, {0, 1, 2})
    local text = f:dot(dagl.ones(3))
    assert.is_truthy(text:find("assign", 1, true))
    -- the reads of w (x * w, and + w) wait for nothing but must finish before the assign, and
    -- before the fused update (x * -0.5 + w), which writes w in place
    local _, before = text:gsub('%[style=dashed, label="before"%]', "")
    assert.equal(4, before)
  end)

  it("waits for a slow reader of the target even when its value is ready at once", function()
    -- the reader is a Lua node that takes 30 ms; the assign's sources are a constant and an
    -- input, so without the ordering edge an idle worker would run it during the read
    for _, threads in ipairs {2, 1} do
      dagl.set_threads(threads)
      local w = dagl.tensor{1, 2, 3, 4}
      local f = dagl.fn(function(x)
        local old = slow(w, x)
        dagl.assign(w, x)
        return old
      end)
      for run = 1, 3 do
        local before = w:totable()
        assert.same(before, f(dagl.fill(dagl.empty(4), run * 10)):totable())
        assert_equal_values(w, {run * 10, run * 10, run * 10, run * 10})
      end
    end
  end)

  it("waits for readers of a Lua node's result that is the target itself", function()
    -- ident hands back its first source (the weight) unchanged; slow reads that result 30 ms
    -- later, so the assign must wait for slow too, not only for ident
    local ident = dagl.luaop{name = "ident", forward = function(t) return t end}
    for _, threads in ipairs {2, 1} do
      dagl.set_threads(threads)
      local w = dagl.tensor{1, 2, 3, 4}
      local f = dagl.fn(function(x)
        local old = slow(ident(w, x))
        dagl.assign(w, x)
        return old
      end)
      for run = 1, 2 do
        local before = w:totable()
        assert.same(before, f(dagl.full({4}, run * 10)):totable())
        assert_equal_values(w, {run * 10, run * 10, run * 10, run * 10})
      end
    end
    dagl.set_threads(0)
  end)

  it("runs assigns to one tensor in trace order, swaps, and rejects assigns no order satisfies", function()
    local w = dagl.zeros(2)
    local f = dagl.fn(function(x)
      local a = dagl.assign(w, x)
      dagl.assign(w, a * 3)
      return x * 1
    end)
    f(dagl.tensor{1, 2})
    assert_equal_values(w, {3, 6})
    -- both reads come before both writes: a swap
    local a, b = dagl.tensor{1, 1}, dagl.tensor{2, 2}
    local swap = dagl.fn(function(x)
      dagl.assign(a, fn.lift(x, b) + x)
      dagl.assign(b, fn.lift(x, a) + x)
      return x * 1
    end)
    swap(dagl.tensor{10, 20})
    assert_equal_values(a, {12, 22})
    assert_equal_values(b, {11, 21})
    -- one node wants the new a with the old b, another the new b with the old a: no order works
    local bad = dagl.fn(function(x)
      local na, nb = dagl.assign(a, x), dagl.assign(b, x)
      return na + fn.lift(x, b), nb + fn.lift(x, a)
    end)
    assert_raises(function() bad(dagl.zeros(2)) end, "assign: node", "cannot be ordered")
    assert_equal_values(a, {12, 22})
    assert_equal_values(b, {11, 21})
  end)

  it("leaves the gradients of a function that also assigns as they are (float64 differences)", function()
    local w = dagl.tensor({0.5, -1, 2}, "float64")
    local seen = dagl.zeros(3, "float64")
    local function loss(x) return (x * w):tanh():sum() end
    local vg = dagl.grad(function(x)
      local y = loss(x)
      dagl.assign(seen, x * 2)
      return y
    end, {wrt = {w}})
    local x = dagl.tensor({0.3, 0.1, -0.2}, "float64")
    local _, dx, dw = vg(x)
    assert_close(seen, {0.6, 0.2, -0.4}, 1e-12)
    assert_close(dx, numeric_grad(function() return loss(x) end, x):totable(), 1e-6)
    assert_close(dw, numeric_grad(function() return loss(x) end, w):totable(), 1e-6)
  end)
end)
