-- digits_cnn.lua -- a small convolutional network on the 8x8 handwritten digits shipped in
-- examples/data (1,797 images from scikit-learn/UCI), as (N, 8, 8, 1) channels-last images:
-- Conv2D(16, 3x3, same, relu) -> MaxPool2D(2) -> Conv2D(32, 3x3, same, relu) -> Flatten ->
-- Dense(10) logits, trained with SGD with momentum and the softmax cross-entropy. Every training
-- step (forward, loss, backward through conv2d and pooling) is one graph run. Prints the
-- accuracy on the held-out 20%.
--   build/dagl examples/digits_cnn.lua [epochs=20]
local dagl = require "dagl"
local nn = dagl.nn

local epochs = math.tointeger(tonumber(arg[1])) or 20
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")

-- Reads the gzip CSV (64 pixels then the label per line) through gzip -dc.
local function load_digits(path)
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

dagl.manual_seed(0)
math.randomseed(0)
local x, y = load_digits(here .. "/data/digits.csv.gz")
-- shuffle once so the validation split (the last 20%) has every digit
local order = {}
for i = 1, #y do order[i] = i end
for i = #order, 2, -1 do local k = math.random(i) order[i], order[k] = order[k], order[i] end
local xs, ys = dagl.empty(x.shape), {}
for i, k in ipairs(order) do xs[i] = x[k] ys[i] = y[k] end
local images = xs:reshape(#ys, 8, 8, 1):contiguous()

local model = nn.Sequential{
  nn.Conv2D(16, 3, {padding = "same", activation = "relu"}),
  nn.MaxPool2D(2),
  nn.Conv2D(32, 3, {padding = "same", activation = "relu"}),
  nn.Flatten(),
  nn.Dense(10), -- logits
}
model:build{32, 8, 8, 1}
model:summary()
model:compile{optimizer = nn.SGD{lr = 0.01, momentum = 0.9}, loss = "sparse_categorical_crossentropy",
              metrics = {"accuracy"}}
local t0 = dagl.wall_time()
local history = model:fit(images, ys, {epochs = epochs, batch_size = 32, validation_split = 0.2})
local vacc = history.val_accuracy[#history.val_accuracy]
print(("trained %d epochs in %.1f s; validation accuracy %.1f%% (%d held-out digits)"):format(
  epochs, dagl.wall_time() - t0, 100 * vacc, math.floor(#ys * 0.2)))
