-- nn.save_weights / nn.load_weights: round trips through safetensors, .npz (written by NumPy)
-- and a directory of .npy files, and errors (by name) that name every missing, unexpected and
-- differently shaped weight. Matching by architecture: spec/save_load_model_spec.lua.
local dagl = require "dagl"
local nn = dagl.nn

local assert_raises, assert_equal_values, assert_close = assert_raises, assert_equal_values, assert_close

local tmpbase = os.tmpname()
os.remove(tmpbase)

local function mlp(prefix)
  local m = nn.Sequential{nn.Dense(4, {activation = "tanh", name = prefix .. "1"}),
                          nn.LayerNormalization{name = prefix .. "_norm"}, nn.Dense(2, {name = prefix .. "2"})}
  m(dagl.ones(1, 3)) -- builds the weights
  return m
end

local function max_diff(a, b) return (a - b):abs():max():item() end

describe("nn weights on disk", function()
  teardown(function()
    os.remove(tmpbase .. ".safetensors")
    os.execute("rm -rf '" .. tmpbase .. "_dir'")
  end)

  it("saves and loads a model's weights in place", function()
    dagl.manual_seed(3)
    local a = mlp("wa")
    local path = tmpbase .. ".safetensors"
    nn.save_weights(a, path, {epoch = 3})
    local file, meta = dagl.load_safetensors(path)
    assert.same({format = "dagl", epoch = "3",
                 weight_order = '["wa1/kernel","wa1/bias","wa_norm/gamma","wa_norm/beta","wa2/kernel","wa2/bias"]'}, meta)
    assert.same({3, 4}, file["wa1/kernel"].shape)
    local x = dagl.randn(5, 3)
    local want = a(x)
    -- scramble the weights, keeping the tensors (an optimizer holds references to them)
    local kernel = a.layers[1].kernel
    for _, layer in ipairs(a.layers) do for _, w in ipairs(layer.weights) do w.value:fill(0.25) end end
    assert.is_true(max_diff(a(x), want) > 1e-3)
    nn.load_weights(a, path)
    assert.equal(kernel, a.layers[1].kernel)
    assert.equal(0, max_diff(a(x), want))
  end)

  it("names missing, unexpected and misshapen weights (by name)", function()
    local path = tmpbase .. ".safetensors"
    nn.save_weights(mlp("wb"), path)
    local other = nn.Sequential{nn.Dense(4, {name = "wb1"}), nn.Dense(5, {name = "wb2"}), nn.Dense(2, {name = "wc"})}
    other(dagl.ones(1, 3))
    local err = assert_raises(function() nn.load_weights(other, path, {by_name = true}) end, path,
      "missing: wc/kernel, wc/bias", "unexpected: wb_norm/beta, wb_norm/gamma",
      "shape mismatch: wb2/kernel expected {4, 5}, found {4, 2}; wb2/bias expected {5}, found {2}")
    assert.falsy(err:find("wb1/kernel", 1, true))
    assert_raises(function() nn.load_weights(nn.Sequential{nn.Dense(2)}, path) end, "no weights yet")
  end)

  it("imports an .npz written by NumPy and a directory of .npy files", function()
    local m = nn.Sequential{nn.Dense(3, {name = "dense_w1"})}
    m(dagl.ones(1, 2))
    nn.load_weights(m, "spec/fixtures/weights_dense.npz")
    assert_close(m.layers[1].kernel, {{0, 0.1, 0.2}, {0.3, 0.4, 0.5}}, 1e-7)
    assert_equal_values(m.layers[1].bias, {1, -1, 0.5})
    local dir = tmpbase .. "_dir"
    assert.is_true(os.execute("mkdir -p '" .. dir .. "'"))
    dagl.save_npy(dir .. "/dense_w1__kernel.npy", dagl.full({2, 3}, 2))
    dagl.save_npy(dir .. "/dense_w1__bias.npy", dagl.tensor{7, 8, 9})
    nn.load_weights(m, dir)
    assert_equal_values(m.layers[1].bias, {7, 8, 9})
    assert_equal_values(m.layers[1].kernel, {{2, 2, 2}, {2, 2, 2}})
    dagl.save_npy(dir .. "/stray__w.npy", dagl.ones(1))
    os.remove(dir .. "/dense_w1__bias.npy")
    assert_raises(function() nn.load_weights(m, dir) end, "missing: dense_w1/bias", "unexpected: stray/w")
    -- a single layer works like a model of one layer
    nn.load_weights(m.layers[1], "spec/fixtures/weights_dense.npz")
    assert_equal_values(m.layers[1].bias, {1, -1, 0.5})
  end)
end)
