-- Memory during training does not wait for the collector (issue 14): the tensors a run of fit,
-- train_on_batch, evaluate or predict holds stay flat over many steps (dagl.live_bytes counts
-- every tensor byte dagl holds: data, weights, optimizer state, the graphs' arenas, batches in
-- flight), so nothing per step piles up until Lua's collector happens to run.
local dagl = require "dagl"
local nn = require "dagl.nn"

-- An MLP on random data: 2048 rows of 64 features, 10 classes.
local function setup()
  math.randomseed(4)
  local x = dagl.randn(2048, 64)
  local labels = {}
  for i = 1, 2048 do labels[i] = i % 10 end
  local y = dagl.tensor(labels, "int64")
  local m = nn.Sequential{nn.Dense(128, {activation = "relu", input_shape = {64}}), nn.Dense(10, "softmax")}
  m:compile{optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
  return m, x, y
end

local BATCH_BYTES = 64 * 64 * 4 -- one x batch

describe("memory during training", function()
  it("stays flat over the steps of fit: nothing per step piles up", function()
    local m, x, y = setup()
    m:fit(x, y, {epochs = 1, batch_size = 64, verbose = 0}) -- traces and makes the arenas
    local seen, steps = {}, 0
    m:fit(x, y, {epochs = 4, batch_size = 64, verbose = 0, callbacks = {on_batch_end = function()
      steps = steps + 1
      seen[#seen + 1] = dagl.live_bytes()
    end}})
    assert.equal(4 * 32, steps)
    local lo, hi = math.huge, 0
    for _, b in ipairs(seen) do lo, hi = math.min(lo, b), math.max(hi, b) end
    -- a step's batches (the one training and the one being gathered), their targets and a few
    -- scalars: a handful of batches of slack, against 128 steps x a batch if they piled up
    assert.is_true(hi - lo <= 6 * BATCH_BYTES, ("live bytes ranged %d..%d over %d steps"):format(lo, hi, steps))
  end)

  it("stays flat over train_on_batch, evaluate and predict calls", function()
    local m, x, y = setup()
    local xb, yb = x:narrow(1, 1, 64), y:narrow(1, 1, 64)
    m:train_on_batch(xb, yb)
    m:evaluate(x, y)
    m:predict(x)
    local before = dagl.live_bytes()
    for _ = 1, 200 do m:train_on_batch(xb, yb) end
    for _ = 1, 5 do m:evaluate(x, y) end
    for _ = 1, 5 do m:predict(x) end
    -- predict's result (2048 x 10 floats) may still be held by Lua: allow it and its parts
    assert.is_true(dagl.live_bytes() - before <= 4 * 2048 * 10 * 4,
      ("live bytes grew by %d"):format(dagl.live_bytes() - before))
  end)
end)
