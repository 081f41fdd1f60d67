-- dagl.grad: every op's gradient against central finite differences (float64, torch/nn's
-- Jacobian-check way), broadcasting, weights as wrt tensors, and Lua nodes with a backward.
local dagl = require "dagl"

-- Central differences of the scalar f at args[i], element by element.
local function numeric_grad(f, args, i)
  return _G.numeric_grad(function() return f(table.unpack(args)) end, args[i]) -- spec/helper.lua
end

-- Checks dagl.grad(f) against finite differences for every argument.
local function check(f, ...)
  local args = {...}
  local res = {dagl.grad(f)(...)}
  local eager = f(...):item()
  assert.is_true(math.abs(res[1]:item() - eager) <= 1e-9 * (1 + math.abs(eager)), "value differs from eager")
  for i = 1, #args do
    local want = numeric_grad(f, args, i)
    local got = res[i + 1]
    assert.same(want.shape, got.shape)
    local err = (got - want):abs():max():item()
    local scale = want:abs():max():item()
    assert.is_true(err <= 1e-5 * (1 + scale), ("argument %d: max error %g (scale %g)"):format(i, err, scale))
  end
end

local function r(...) return dagl.randn({...}, "float64") end
local function pos(...) return dagl.rand({...}, "float64") + 0.5 end

describe("dagl.grad", function()
  setup(function() dagl.manual_seed(123) end)

  it("matches finite differences for arithmetic with broadcasting", function()
    check(function(a, b) return (a + b):sum() end, r(3, 4), r(4))
    check(function(a, b) return ((a - b) * (a - b)):sum() end, r(2, 3), r(2, 1))
    check(function(a, b) return (a * b):mean() end, r(3, 1, 4), r(5, 1))
    check(function(a, b) return (a / b):sum() end, r(3, 4), pos(3, 4))
    check(function(a, b) return (a ^ b):sum() end, pos(3), r(3))
    check(function(a, b) return a:maximum(b):sum() + a:minimum(b):sum() * 2 end, r(4, 3), r(3))
  end)

  it("matches finite differences for scalar operands on either side", function()
    check(function(a) return (a * 3 + 2 - a / 4):sum() end, r(5))
    check(function(a) return ((1 - a) * (2 / a)):sum() end, pos(4))
    check(function(a) return (a ^ 3 + 2 ^ a):sum() end, r(2, 2))
    check(function(a) return a:maximum(0.1):sum() end, r(6))
    -- remainder away from its jumps: a in (0.2, 0.8) + k, b in (1.1, 1.9)
    local a0, b0 = dagl.tensor({ 0.3, 2.9, -1.45 }, "float64"), dagl.tensor({ 1.2, 1.5, 1.8 }, "float64")
    check(function(a, b) return (a % b):sum() + (7 % b):sum() + (a % 1.3):sum() end, a0, b0)
  end)

  it("matches finite differences for unary functions", function()
    for _, name in ipairs {"exp", "tanh", "sigmoid", "neg", "sin", "cos", "erf"} do
      check(function(a) return a[name](a):sum() end, r(3, 3))
    end
    check(function(a) return (a:log() + a:sqrt()):sum() end, pos(7))
    check(function(a) return (a:abs() + a:relu() * 2):sum() end, r(8) + 0.01)
    check(function(a) return a:clamp(-0.5, 0.5):sum() + a:clamp(nil, 0.2):sum() end, r(9))
    check(function(a, b) return dagl.where(a:gt(0), a * 2, b):sum() end, r(3, 4), r(4))
  end)

  it("matches finite differences for reductions over dims", function()
    check(function(a) return a:sum(2):tanh():sum() end, r(3, 4))
    check(function(a) return a:mean({1, 3}, true):exp():sum() end, r(2, 3, 4))
    check(function(a) return a:max(2):sum() + a:min(1):sum() end, r(4, 5))
    check(function(a) return a:var(2):sum() + a:var():sum() end, r(3, 6))
  end)

  it("matches finite differences for softmax and log_softmax along any dim", function()
    local w = r(3, 4, 5) -- weights, since the plain sum of a softmax is constant
    for _, d in ipairs {1, 2, 3, -1} do
      check(function(a) return (a:softmax(d) * w):sum() end, r(3, 4, 5))
      check(function(a) return (a:log_softmax(d) * w):sum() end, r(3, 4, 5))
    end
    check(function(a) return (a:softmax() * w):sum() end, r(3, 4, 5):permute(2, 1, 3):permute(2, 1, 3))
  end)

  it("matches finite differences for matmul (1-D, 2-D, batched and broadcast)", function()
    check(function(a, b) return a:matmul(b):tanh():sum() end, r(3, 4), r(4, 2))
    check(function(a, b) return a:matmul(b):sum() end, r(4), r(4, 3))
    check(function(a, b) return a:matmul(b):sum() end, r(2, 4), r(4))
    check(function(a, b) return a:matmul(b) end, r(5), r(5))
    check(function(a, b) return a:matmul(b):sigmoid():sum() end, r(2, 3, 4), r(4, 2))
    check(function(a, b) return a:matmul(b):sum() end, r(3, 4), r(2, 4, 3))
  end)

  it("matches finite differences through layout ops", function()
    check(function(a) return (a:t():reshape(2, 6) * dagl.arange(6, "float64")):sum() end, r(3, 4))
    check(function(a) return (a:permute(3, 1, 2):flatten() * dagl.arange(24, "float64")):sum() end, r(2, 3, 4))
    check(function(a) return (a:unsqueeze(1):expand(3, 2, 4) * dagl.arange(24, "float64"):view(3, 2, 4)):sum() end, r(2, 4))
    -- views the front end makes from other layout nodes: select, squeeze, narrow, a row by index
    check(function(a) return (a:select(2, -1):unsqueeze(2):squeeze() * dagl.arange(2, "float64")):sum() end, r(2, 3))
    check(function(a) return (a:narrow(1, 2, 2) * a[1]):sum() end, r(3, 4))
    -- a cast there and back (float32 in between, too coarse for finite differences): the
    -- gradient returns in the source's dtype
    local _, g = dagl.grad(function(a) return (a:float():double() * 3):sum() end)(r(5))
    assert.equal("float64", g:dtype())
    assert.same({3, 3, 3, 3, 3}, g:totable())
  end)

  it("gives gradients with respect to weights the function closes over", function()
    local w, b = r(3, 2), r(2)
    local vg = dagl.grad(function(x) return (x:matmul(w) + b):tanh():sum() end, {wrt = {w, b}})
    local x = r(4, 3)
    local loss, dx, dw, db = vg(x)
    local f = function(xx, ww, bb) return (xx:matmul(ww) + bb):tanh():sum() end
    assert.is_true(math.abs(loss:item() - f(x, w, b):item()) < 1e-12)
    for i, got in ipairs {dx, dw, db} do
      local want = numeric_grad(f, {x, w, b}, i)
      assert.is_true((got - want):abs():max():item() < 1e-6)
    end
  end)

  it("uses a Lua node's backward, run as Lua nodes of the backward graph", function()
    local cube = dagl.luaop{
      name = "cube",
      forward = function(t) return t * t * t end,
      backward = function(g, t, out) return g * t * t * 3 end,
    }
    check(function(a) return cube(a:tanh()):sum() end, r(5))
  end)

  it("explains what it cannot differentiate", function()
    local opaque = dagl.luaop{name = "opaque", forward = function(t) return t * 2 end}
    local ok, err = pcall(dagl.grad(function(a) return opaque(a):sum() end), r(3))
    assert.is_false(ok)
    assert.matches("luaop 'opaque' has no backward", err)
    ok, err = pcall(dagl.grad(function(a) return a * 2 end), r(3))
    assert.is_false(ok)
    assert.matches("must return a single value, got shape %[3%]", err)
  end)
end)
