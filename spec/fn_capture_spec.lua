-- fn_capture_spec.lua -- dagl.fn never runs with stale captured values: an upvalue rebound since
-- the trace (tensor, number, string, boolean, nil, function, or an upvalue of a helper the
-- function calls) retraces, and the result matches the eager call; in-place changes to a captured
-- tensor pass without a retrace; a function that keeps retracing warns once.
local dagl = require "dagl"

-- Calls the traced g and the plain f on the same tensors; both must give the same values.
-- Returns the traced result's values.
local function agree(g, f, ...)
  local got, want = g(...):totable(), f(...):totable()
  assert_close(got, want, 0, "traced vs eager")
  return got
end

describe("dagl.fn captured values", function()
  it("uses a rebound tensor upvalue, not the traced one", function()
    local w = dagl.full({2}, 2)
    local f = function(x) return x * w end
    local g = dagl.fn(f)
    local x = dagl.tensor({1, 3})
    assert.same({2, 6}, agree(g, f, x))
    w = dagl.full({2}, 7)
    assert.same({7, 21}, agree(g, f, x))
    assert.equal(2, g.traces)
    assert.equal(1, g.retraces)
  end)

  it("uses a rebound number upvalue used as a scalar (-0.0 too), and a NaN stays put", function()
    local k = 2
    local f = function(x) return x * k + 1 end
    local g = dagl.fn(f)
    local x = dagl.tensor({1, 2})
    assert.same({3, 5}, agree(g, f, x))
    k = 10
    assert.same({11, 21}, agree(g, f, x))
    k = 0.5 -- an integral float and a float are other values
    assert.same({1.5, 2}, agree(g, f, x))
    k = 0 / 0
    g(x)
    local traces = g.traces
    for _ = 1, 5 do assert.is_true(g(x):totable()[1] ~= g(x):totable()[1]) end
    assert.equal(traces, g.traces)
    local z = 0.0
    local h = dagl.fn(function(y) return 1 / (y * z) end)
    assert.equal(math.huge, h(x):totable()[1])
    z = -0.0 -- equal to 0.0 in Lua, but not the same scalar
    assert.equal(-math.huge, h(x):totable()[1])
  end)

  it("retraces when a string, boolean or nil upvalue chooses another branch", function()
    local mode, double, bias = "relu", false, nil
    local f = function(x)
      local y = mode == "relu" and x:relu() or x:neg()
      if double then y = y * 2 end
      if bias then y = y + bias end
      return y
    end
    local g = dagl.fn(f)
    local x = dagl.tensor({-1, 2})
    assert.same({0, 2}, agree(g, f, x))
    mode = "neg"
    assert.same({1, -2}, agree(g, f, x))
    double = true
    assert.same({2, -4}, agree(g, f, x))
    bias = dagl.tensor({10, 20})
    assert.same({12, 16}, agree(g, f, x))
    bias = nil
    assert.same({2, -4}, agree(g, f, x))
    assert.equal(5, g.traces)
  end)

  it("follows the upvalues of helper functions, recursive ones too, and rebound helpers", function()
    local k = 3
    local function scale(y) return y * k end
    local function pow_k(y, n) -- recursive: captures itself
      if n == 0 then return y end
      return pow_k(y, n - 1) * k
    end
    local f = function(x) return scale(x) + pow_k(x, 2) end
    local g = dagl.fn(f)
    local x = dagl.tensor({1, 2})
    assert.same({12, 24}, agree(g, f, x))
    k = 2
    assert.same({6, 12}, agree(g, f, x))
    scale = function(y) return y - k end
    assert.same({3, 8}, agree(g, f, x))
    assert.equal(3, g.traces)
  end)

  it("sees in-place changes to a captured tensor without retracing, and a rebinding after them", function()
    local w = dagl.full({2}, 1)
    local f = function(x) return x + w end
    local g = dagl.fn(f)
    local x = dagl.tensor({1, 2})
    assert.same({2, 3}, agree(g, f, x))
    w:fill(3)
    assert.same({4, 5}, agree(g, f, x))
    w:copy(dagl.tensor({10, 20}))
    assert.same({11, 22}, agree(g, f, x))
    dagl.assign(w, dagl.tensor({5, 6}))
    assert.same({6, 8}, agree(g, f, x))
    assert.equal(1, g.traces)
    w = dagl.zeros(2)
    assert.same({1, 2}, agree(g, f, x))
    assert.equal(2, g.traces)
  end)

  it("does not retrace while captures stay the same, and retraces every signature once after a change", function()
    local k, last = 2, nil
    local f = function(x)
      last = x * k -- a value the function stores while tracing is not a change
      return last
    end
    local g = dagl.fn(f)
    local small, big = dagl.ones(2), dagl.ones(3)
    for _ = 1, 50 do g(small) g(big) end
    assert.equal(2, g.traces)
    k = 5
    for _ = 1, 50 do
      assert.same({5, 5}, g(small):totable())
      assert.same({5, 5, 5}, g(big):totable())
    end
    assert.equal(4, g.traces)
    assert.equal(1, g.retraces)
  end)

  it("retraces dagl.grad functions too", function()
    local k = 2
    local g = dagl.grad(function(x) return (x * k):sum() end)
    local x = dagl.tensor({1, 2})
    local _, dx = g(x)
    assert.same({2, 2}, dx:totable())
    k = 7
    local y, dx2 = g(x)
    assert.equal(21, y:item())
    assert.same({7, 7}, dx2:totable())
  end)

  it("warns once, naming the function and the capture, when captures keep changing, and stays right", function()
    local saved, lines = io.stderr, {}
    io.stderr = {write = function(self, ...) lines[#lines + 1] = table.concat({...}) return self end}
    finally(function() io.stderr = saved end)
    local k = 0
    local line = debug.getinfo(1, "l").currentline + 1
    local f = function(x) return x + k end
    local g = dagl.fn(f)
    local x = dagl.zeros(1)
    for i = 1, 12 do
      k = i
      assert.same({i}, agree(g, f, x))
    end
    io.stderr = saved
    assert.equal(11, g.retraces)
    assert.equal(12, g.traces)
    assert.equal(1, #lines)
    local msg = lines[1]
    assert.truthy(msg:find("fn_capture_spec.lua:" .. line, 1, true), msg)
    assert.truthy(msg:find("'k'", 1, true), msg)
    assert.truthy(msg:find("tensor argument", 1, true), msg)
  end)

  it("guards a function with 10 upvalues", function()
    local a, b, c, d, e = dagl.ones(2), dagl.full({2}, 2), dagl.full({2}, 3), dagl.ones(2), dagl.zeros(2)
    local k1, k2, k3, k4, k5 = 1, 2, 3, 4, 5
    local f = function(x) return (x + a) * b - c + d * e + k1 + k2 + k3 + k4 + k5 end
    local g = dagl.fn(f)
    local x = dagl.ones(2)
    assert.same({16, 16}, agree(g, f, x))
    local _, n = dagl.capture_snapshot(f)
    assert.equal(10, n)
    k5 = 50
    assert.same({61, 61}, agree(g, f, x))
    e = dagl.ones(2)
    assert.same({62, 62}, agree(g, f, x))
    for _ = 1, 20 do g(x) end
    assert.equal(3, g.traces)
  end)
end)
