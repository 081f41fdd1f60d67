-- dagl.grad's auxiliary outputs: values the function returns after the loss come back after the
-- gradients, computed in the same graph and not differentiated.
local dagl = require "dagl"

describe("dagl.grad auxiliary outputs", function()
  it("returns extra values after the gradients, undifferentiated", function()
    local w = dagl.tensor{1, 2, 3}
    local vg = dagl.grad(function(x)
      local y = x * w
      return y:sum(), y:max(), y * 2 -- loss, then two aux values
    end, {wrt = {w}})
    local x = dagl.tensor{2, -1, 4}
    local loss, dx, dw, ymax, y2 = vg(x)
    assert.equal(2 - 2 + 12, loss:item())
    assert.same({1, 2, 3}, dx:totable())
    assert.same({2, -1, 4}, dw:totable())
    assert.equal(12, ymax:item())
    assert.same({4, -4, 24}, y2:totable())
    assert.equal(5, select("#", vg(x)))
  end)

  it("keeps aux values out of the gradient and works with argnums", function()
    local w = dagl.tensor{0.5}
    -- the aux value depends on w, yet the gradient is that of the loss alone
    local vg = dagl.grad(function(x) return (x * w):sum(), (w * w * 100):sum() end, {wrt = {w}, argnums = {}})
    local loss, dw, aux = vg(dagl.tensor{3})
    assert.equal(1.5, loss:item())
    assert.same({3}, dw:totable())
    assert.equal(25, aux:item())
  end)

  it("returns plain tensors and numbers given as aux values", function()
    local c = dagl.tensor{7, 8}
    local loss, dx, a, b = dagl.grad(function(x) return (x * x):sum(), c, 3 end)(dagl.tensor{1, 2})
    assert.equal(5, loss:item())
    assert.same({2, 4}, dx:totable())
    assert.same({7, 8}, a:totable())
    assert.equal(3, b:item())
  end)
end)
