-- examples/custom_layer.lua keeps working: both custom layers train, and their gradients (traced
-- for GatedDense, the hand-written luaop backward for Softsign) match central differences.
local dagl = require "dagl"

describe("examples/custom_layer.lua", function()
  local ex
  setup(function() ex = dofile("examples/custom_layer.lua") end)

  it("trains both custom layers", function()
    for name, r in pairs(ex.results) do
      assert.is_true(r.last < r.first * 0.5, ("%s: loss %g -> %g"):format(name, r.first, r.last))
    end
  end)

  for _, case in ipairs {{"GatedDense", 3}, {"Softsign"}} do
    it(case[1] .. " has gradients matching finite differences (float64)", function()
      dagl.manual_seed(5)
      local layer = ex[case[1]](case[2])
      local x = dagl.randn({4, 3}, "float64")
      layer:build(x.shape)
      layer.built = true
      local params = {}
      for k, v in pairs(layer) do
        if dagl.is_tensor(v) then
          layer[k] = v:double()
          params[#params + 1] = layer[k]
        end
      end
      local c = dagl.randn({4, case[2] or 3}, "float64")
      local loss = function(z) return (layer(z) * c):sum() end
      local res = {dagl.grad(loss, {wrt = params})(x)}
      for i, t in ipairs({x, table.unpack(params)}) do
        local g = res[i + 1]:view(-1)
        for k = 1, t:numel() do
          local want = numeric_at(function() return loss(x) end, t, k)
          assert.is_true(math.abs(g[k] - want) < 1e-6 * (1 + math.abs(want)), ("%s arg %d [%d]: %g vs %g"):format(case[1], i, k, g[k], want))
        end
      end
    end)
  end
end)
