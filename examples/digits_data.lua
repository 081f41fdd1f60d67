-- digits_data.lua -- what the digits examples share: loading the handwritten digits shipped in
-- examples/data (1,797 8x8 images from scikit-learn/UCI; pixels scaled to 0..1, rows shuffled
-- once with seed 0 so a validation split of the last rows has every digit), and the training
-- run of a classifier on them with a held-out 20%.
--   local digits = dofile(dir .. "/digits_data.lua")
--   local xs, ys = digits.load()                      -- xs (1797, 64) float32, ys labels 0..9
--   digits.train(model, xs, ys, epochs, lr, input_shape)
local dagl = require "dagl"

local M = {}

-- Reads the gzip CSV (64 pixels then the label per line) through gzip -dc.
local function read(path)
  local p = assert(io.popen("gzip -dc '" .. path .. "'"))
  local xs, ys = {}, {}
  for line in p:lines() do
    local row = {}
    for v in line:gmatch("[^,]+") do row[#row + 1] = tonumber(v) end
    ys[#ys + 1] = math.tointeger(table.remove(row))
    for i = 1, #row do row[i] = row[i] / 16 end -- pixels 0..16 -> 0..1
    xs[#xs + 1] = row
  end
  assert(p:close(), "cannot read " .. path)
  return dagl.tensor(xs), ys
end

local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

--- The shuffled images (N, 64) and labels of examples/data/digits.csv.gz; seeds dagl's and
-- Lua's generators with 0 first, so runs repeat.
function M.load()
  dagl.manual_seed(0)
  math.randomseed(0)
  local x, y = read(dir .. "/data/digits.csv.gz")
  local order = {}
  for i = 1, #y do order[i] = i end
  for i = #order, 2, -1 do local k = math.random(i) order[i], order[k] = order[k], order[i] end
  local xs, ys = dagl.empty(x.shape), {}
  for i, k in ipairs(order) do xs[i] = x[k] ys[i] = y[k] end
  return xs, ys
end

--- Prints the model's summary, trains it with SGD (momentum 0.9, batches of 32) and the softmax
-- cross-entropy on the first 80% of the rows, and prints the accuracy on the last 20%.
function M.train(model, xs, ys, epochs, lr, input_shape)
  local nn = dagl.nn
  model:build(input_shape)
  model:summary()
  model:compile{optimizer = nn.SGD{lr = lr, momentum = 0.9},
                loss = nn.losses.SparseCategoricalCrossentropy{from_logits = true}, -- the model gives logits
                metrics = {"accuracy"}}
  local t0 = dagl.wall_time()
  local history = model:fit(xs, ys, {epochs = epochs, batch_size = 32, validation_split = 0.2})
  local vacc = history.val_accuracy[#history.val_accuracy]
  print(("trained %d epochs in %.1f s; validation accuracy %.1f%% (%d held-out digits)"):format(
    epochs, dagl.wall_time() - t0, 100 * vacc, math.floor(#ys * 0.2)))
  return history
end

return M
