-- Resuming training from a checkpoint: model:fit{initial_epoch = k} after model:load_weights
-- continues where an uninterrupted run would be (Keras semantics: `epochs` is the last epoch's
-- number), and checkpoint writes are atomic (path.tmp, then rename): a failing write leaves the
-- previous file intact.
local dagl = require "dagl"
local nn = dagl.nn

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
teardown(function() os.execute("rm -rf " .. dir) end)

-- The same small regression model, data and optimizer every time (by default plain SGD, which
-- keeps no state between steps).
local function setup_model(optimizer)
  dagl.manual_seed(11)
  local m = nn.Sequential{nn.Dense(4, {activation = "tanh", name = "hidden"}), nn.Dense(1, {name = "out"})}
  m:compile{loss = "mse", optimizer = optimizer or nn.SGD{lr = 0.05}}
  local x = dagl.randn(16, 3)
  m:predict(x) -- built: weights exist (and can be loaded into)
  local y = (x:sum(2, true) * 0.5):tanh()
  return m, x, y
end

local function weights_of(m)
  local out = {}
  for _, w in ipairs(nn.named_weights(m)) do out[w.name] = w.value:totable() end
  return out
end

describe("model:fit with initial_epoch", function()
  it("continues a checkpoint to the same weights and losses as an uninterrupted run", function()
    local m, x, y = setup_model()
    local full = m:fit(x, y, {epochs = 5, batch_size = 4, shuffle = false, verbose = false})
    local want = weights_of(m)

    local a = setup_model()
    local ckpt = dir .. "/ckpt_{epoch}.safetensors"
    local first = a:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = false,
                               callbacks = {nn.callbacks.model_checkpoint{path = ckpt}}})
    assert.same({1, 2}, first.epoch)

    local b = setup_model() -- fresh weights, then the checkpoint of epoch 2
    b:load_weights(dir .. "/ckpt_2.safetensors")
    local seen = {}
    local rest = b:fit(x, y, {epochs = 5, initial_epoch = 2, batch_size = 4, shuffle = false, verbose = false,
                              callbacks = {function(epoch) seen[#seen + 1] = epoch end}})
    assert.same({3, 4, 5}, seen)
    assert.same({3, 4, 5}, rest.epoch)
    assert.equal(3, #rest.loss)
    for i = 1, 3 do assert.near(full.loss[i + 2], rest.loss[i], 1e-6 * (1 + full.loss[i + 2])) end
    assert.same(want, weights_of(b))
  end)

  it("resumes Adam with a schedule exactly: checkpoints hold the optimizer's state and step count", function()
    local function adam() return nn.Adam{lr = nn.schedules.exponential(0.05, 3, 0.5)} end
    local m, x, y = setup_model(adam())
    local full = m:fit(x, y, {epochs = 4, batch_size = 4, shuffle = false, verbose = 0})
    local a = setup_model(adam())
    local ckpt = dir .. "/adam_{epoch}.safetensors"
    a:fit(x, y, {epochs = 2, batch_size = 4, shuffle = false, verbose = 0,
                 callbacks = {nn.callbacks.model_checkpoint{path = ckpt}}})
    local saved, meta = dagl.load_safetensors(dir .. "/adam_2.safetensors")
    assert.equal("Adam", meta.optimizer)
    assert.equal("8", meta.optimizer_iterations) -- 2 epochs of 4 batches
    assert.same({3, 4}, saved["optimizer/hidden/kernel/m"].shape)

    local b = setup_model(adam())
    b:load_weights(dir .. "/adam_2.safetensors")
    assert.equal(8, b.optimizer.iterations)
    local rest = b:fit(x, y, {epochs = 4, initial_epoch = 2, batch_size = 4, shuffle = false, verbose = 0})
    assert.same({full.loss[3], full.loss[4]}, rest.loss) -- bitwise: the same steps from the same state
    assert.same(weights_of(m), weights_of(b))

    -- without the state (include_optimizer = false) Adam restarts and the run differs
    a:save_weights(dir .. "/bare.safetensors", nil, {include_optimizer = false})
    local c = setup_model(adam())
    c:load_weights(dir .. "/adam_2.safetensors")
    c:load_weights(dir .. "/bare.safetensors")
    assert.equal(8, c.optimizer.iterations) -- a file without state leaves the optimizer as it is
    local d = setup_model(adam())
    d:load_weights(dir .. "/bare.safetensors")
    assert.equal(0, d.optimizer.iterations)
    d:fit(x, y, {epochs = 4, initial_epoch = 2, batch_size = 4, shuffle = false, verbose = 0})
    assert.are_not.same(weights_of(m), weights_of(d))
  end)

  it("refuses optimizer state of another optimizer, and loads weights alone into an uncompiled model", function()
    local a, x, y = setup_model(nn.Adam{})
    a:fit(x, y, {epochs = 1, verbose = 0})
    local path = dir .. "/adam.safetensors"
    a:save_weights(path, nil, {include_optimizer = true})
    local b = setup_model(nn.SGD{momentum = 0.9})
    assert.has_error(function() b:load_weights(path) end, ("load_weights '%s': the file's optimizer state (Adam) " ..
      "does not fit the model's optimizer SGD (missing: optimizer/hidden/bias/velocity, optimizer/hidden/kernel/velocity, " ..
      "optimizer/out/bias/velocity, optimizer/out/kernel/velocity; unexpected: optimizer/hidden/bias/m, " ..
      "optimizer/hidden/bias/v, optimizer/hidden/kernel/m, optimizer/hidden/kernel/v, optimizer/out/bias/m, " ..
      "optimizer/out/bias/v, optimizer/out/kernel/m, optimizer/out/kernel/v)"):format(path))
    dagl.manual_seed(11)
    local plain = nn.Sequential{nn.Dense(4, {activation = "tanh", name = "hidden"}), nn.Dense(1, {name = "out"})}
    plain:build{2, 3}
    plain:load_weights(path)
    assert.same(weights_of(a), weights_of(plain))
  end)

  it("runs nothing when initial_epoch reaches epochs, and refuses a bad initial_epoch", function()
    local m, x, y = setup_model()
    local before = weights_of(m)
    local h = m:fit(x, y, {epochs = 3, initial_epoch = 3, verbose = false})
    assert.same({}, h.epoch)
    assert.same({}, h.loss)
    assert.same(before, weights_of(m))
    for _, bad in ipairs {-1, 1.5, "2"} do
      local ok, err = pcall(m.fit, m, x, y, {epochs = 3, initial_epoch = bad, verbose = false})
      assert.is_false(ok)
      assert.truthy(tostring(err):find("initial_epoch must be a non-negative integer", 1, true), tostring(err))
    end
  end)
end)

describe("checkpoint writes", function()
  it("go through path.tmp and a rename: a failed write leaves the old file and no .tmp", function()
    local m, x, y = setup_model()
    m:fit(x, y, {epochs = 1, verbose = false})
    local path = dir .. "/model.safetensors"
    m:save_weights(path)
    local old = read_file(path)
    m:fit(x, y, {epochs = 1, verbose = false}) -- new weights to write

    -- the write itself fails (ENOSPC): path.tmp is a link to /dev/full
    assert(os.execute(("ln -sf /dev/full '%s.tmp'"):format(path)))
    local ok, err = pcall(m.save_weights, m, path)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(path .. ".tmp", 1, true), tostring(err))
    assert.equal(old, read_file(path))
    assert.is_nil(io.open(path .. ".tmp", "rb"))

    -- the temporary file cannot even be created (a directory is in the way)
    assert(os.execute(("mkdir '%s.tmp'"):format(path)))
    ok, err = pcall(m.save_weights, m, path)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("cannot create", 1, true), tostring(err))
    assert.equal(old, read_file(path))
    assert(os.execute(("rmdir '%s.tmp'"):format(path)))

    -- and a write that succeeds replaces the file as a whole
    m:save_weights(path)
    assert.are_not.equal(old, read_file(path))
    local b = setup_model()
    b:load_weights(path)
    assert.same(weights_of(m), weights_of(b))
  end)
end)
