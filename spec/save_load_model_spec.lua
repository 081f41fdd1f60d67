-- Weights that cannot be lost: load_weights matches a file to a model by architecture (layer
-- order and shapes) whatever the automatic names (which come from process-wide counters, so the
-- same model built again is dense_3, not dense_1), by name on request; model:save and
-- nn.load_model keep the architecture (as JSON in the safetensors metadata) with the weights.
local dagl = require "dagl"
local nn = dagl.nn

local assert_raises, read_file = assert_raises, read_file

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

local function names_of(m)
  local out = {}
  for i, w in ipairs(nn.named_weights(m)) do out[i] = w.name end
  return out
end

-- Bitwise equality of two tensors (same shape, same values).
local function assert_same_tensor(a, b)
  assert.same(a.shape, b.shape)
  assert.same(a:totable(), b:totable())
end

-- A small model with automatic names and non-trainable weights (BatchNorm's moving stats).
local function mlp(width)
  local m = nn.Sequential{nn.Dense(4, "tanh"), nn.BatchNormalization(), nn.Dense(width or 2)}
  m:build{1, 3}
  return m
end

describe("load_weights by architecture", function()
  it("loads into the same architecture built again in the same process (fresh automatic names)", function()
    dagl.manual_seed(5)
    local a, b = mlp(), mlp()
    assert.are_not.same(names_of(a), names_of(b)) -- dense_1 vs dense_3
    a.layers[2].moving_mean:copy(dagl.tensor{0.1, 0.2, 0.3, 0.4}) -- not trainable, saved all the same
    local path = dir .. "/mlp.safetensors"
    a:save_weights(path)
    local x = dagl.randn(5, 3)
    assert.are_not.same(a:predict(x):totable(), b:predict(x):totable())
    b:load_weights(path)
    assert_same_tensor(a:predict(x), b:predict(x))
    assert_same_tensor(a.layers[2].moving_mean, b.layers[2].moving_mean)
    nn.load_weights(mlp(), path) -- the function form too
  end)

  it("names the first weight whose shape differs, and a different count", function()
    local a, path = mlp(), dir .. "/mlp2.safetensors"
    a:save_weights(path)
    local wide = mlp(5)
    local names, file = names_of(wide), names_of(a)
    assert.has_error(function() wide:load_weights(path) end, ("load_weights '%s': the file does not match the "
      .. "model's architecture: weight 7 is %s {4, 5} in the model but %s {4, 2} in the file (weights are matched "
      .. "by position, in layer order; give {by_name = true} to match them by name)"):format(path, names[7], file[7]))
    local short = nn.Sequential{nn.Dense(4, "tanh"), nn.BatchNormalization()}
    short:build{1, 3}
    assert_raises(function() short:load_weights(path) end, path,
      "the model has 6 weights and the file 8 (the file's weight 7, " .. file[7] .. " {4, 2}, has none in the model)")
    local long = nn.Sequential{nn.Dense(4, "tanh"), nn.BatchNormalization(), nn.Dense(2), nn.Dense(1)}
    long:build{1, 3}
    local lnames = names_of(long)
    assert_raises(function() long:load_weights(path) end,
      "the model has 10 weights and the file 8 (the model's weight 9, " .. lnames[9] .. " {2, 1}, has none in the file)")
  end)

  it("matches by name with {by_name = true}: the names must then be the same", function()
    local a, path = mlp(), dir .. "/mlp3.safetensors"
    a:save_weights(path)
    local file = names_of(a)
    local b = mlp()
    assert_raises(function() b:load_weights(path, {by_name = true}) end, path, "does not match the model",
      "missing: " .. names_of(b)[1], "unexpected: ", file[1])
    local named = nn.Sequential{nn.Dense(4, {name = "h"}), nn.Dense(2, {name = "o"})}
    named:build{1, 3}
    local path2 = dir .. "/named.safetensors"
    named:save_weights(path2)
    -- by name, the order of the layers does not matter
    local swapped = nn.Sequential{nn.Dense(4, {name = "o"}), nn.Dense(2, {name = "h"})}
    swapped:build{1, 3}
    assert_raises(function() swapped:load_weights(path2, {by_name = true}) end,
      "shape mismatch: o/kernel expected {3, 4}, found {4, 2}")
    assert_raises(function() b:load_weights(path, {byname = true}) end,
      "load_weights: unknown option 'byname' (did you mean 'by_name'?")
    assert_raises(function() b:load_weights(path, {by_name = 1}) end, "load_weights: by_name must be true or false, got 1")
    assert_raises(function() b:load_weights(path, {skip_mismatch = true}) end, "skip_mismatch = true is not supported")
  end)

  it("falls back to names for files that do not record their order", function()
    local a = nn.Sequential{nn.Dense(2, {name = "only"})}
    a:build{1, 3}
    local path = dir .. "/plain.safetensors"
    dagl.save_safetensors(path, {["only/kernel"] = dagl.ones(3, 2), ["only/bias"] = dagl.full({2}, 7)})
    a:load_weights(path)
    assert.same({7, 7}, a.layers[1].bias:totable())
    local other = nn.Sequential{nn.Dense(2)}
    other:build{1, 3}
    assert_raises(function() other:load_weights(path) end, "missing: " .. names_of(other)[1], "unexpected: only/bias")
  end)

  it("maps the optimizer's state through the same matching, so training resumes exactly", function()
    local function setup()
      dagl.manual_seed(2)
      local m = nn.Sequential{nn.Dense(4, "tanh"), nn.Dense(1)}
      m:compile{optimizer = "adam", loss = "mse"}
      m:build{1, 3}
      return m
    end
    local x = dagl.randn(8, 3)
    local y = x:sum(2, true)
    local a = setup()
    a:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0})
    local path = dir .. "/adam.safetensors"
    a:save_weights(path, nil, {include_optimizer = true})
    local b = setup()
    assert.are_not.same(names_of(a), names_of(b))
    b:load_weights(path)
    assert.equal(4, b.optimizer.iterations)
    local ha = a:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0})
    local hb = b:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0})
    assert.same(ha.loss, hb.loss)
    assert_same_tensor(a:predict(x), b:predict(x))
  end)

  it("refuses a damaged weight_order and reserved metadata keys", function()
    local a = mlp()
    local path = dir .. "/bad_order.safetensors"
    local tensors = {}
    for _, w in ipairs(nn.named_weights(a)) do tensors[w.name] = w.value end
    dagl.save_safetensors(path, tensors, {weight_order = '["a", '})
    assert_raises(function() a:load_weights(path) end, path, "weight_order metadata is not a JSON list of names",
      "the file is damaged")
    dagl.save_safetensors(path, tensors, {weight_order = '["nope"]'})
    assert_raises(function() a:load_weights(path) end, "lists 'nope' at position 1, but the file holds no such tensor")
    assert_raises(function() a:save_weights(path, {weight_order = "x"}) end, "the metadata key 'weight_order' is dagl's own")
    assert_raises(function() a:save_weights(path, nil, {include_optimiser = true}) end,
      "save_weights: unknown option 'include_optimiser' (did you mean 'include_optimizer'?")
  end)
end)
