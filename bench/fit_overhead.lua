-- bench/fit_overhead.lua [MODEL] [DIR] -- what model:fit and model:predict cost beyond their
-- graphs (issue 14, items 2 and 6), on W12's model MODEL ("mlp" or "cnn", as bench/w12.lua) and
-- Fashion-MNIST (DIR as bench/w12.lua's). Run as `dagl --threads 1 bench/fit_overhead.lua mlp`.
-- Prints RESULT lines:
--   fit_ratio:     one epoch through fit (shuffled, verbose = 0) over the same number of
--                  train_on_batch steps on batches gathered beforehand;
--   predict_ratio: predict(xt, {batch_size = 256}) over the model's traced forward function
--                  called on batches of 256 rows sliced beforehand.
-- Each figure is the fastest of REPS (env, default 3) alternating runs.
local dagl = require "dagl"
local nn = require "dagl.nn"

local which, dir = arg[1] or "mlp", arg[2] or "/tmp/fmnist"
if which ~= "cnn" and which ~= "mlp" then error("fit_overhead.lua: MODEL must be cnn or mlp, not " .. which) end
local reps = tonumber(os.getenv("REPS") or "3")
local function has_idx(d)
  local h = io.open(d .. "/train-images-idx3-ubyte.gz", "rb")
  if h then h:close() return true end
end
local x, y, xt = dagl.data.fashion_mnist {dir = has_idx(dir) and dir or nil}
local shape = which == "cnn" and {28, 28, 1} or {784}
x, xt = x:reshape(-1, table.unpack(shape)), xt:reshape(-1, table.unpack(shape))
math.randomseed(1)
local model
if which == "cnn" then
  model = nn.Sequential {
    nn.Rescaling(1 / 255, {input_shape = shape}),
    nn.Conv2D(32, 3, {activation = "relu"}), nn.MaxPooling2D(2),
    nn.Conv2D(64, 3, {activation = "relu"}), nn.MaxPooling2D(2),
    nn.Flatten(), nn.Dropout(0.5), nn.Dense(10, "softmax"),
  }
else
  model = nn.Sequential {
    nn.Rescaling(1 / 255, {input_shape = shape}),
    nn.Dense(256, "relu"), nn.Dense(256, "relu"), nn.Dense(10, "softmax"),
  }
end
model:compile {optimizer = nn.Adam {learning_rate = 0.001}, loss = "sparse_categorical_crossentropy",
               metrics = {"accuracy"}}

local bs, n = 128, x:size(1)
-- the batches train_on_batch gets: the rows of one shuffled order, gathered before timing
local order = {}
for i = 1, n do order[i] = i end
for i = n, 2, -1 do
  local k = math.random(i)
  order[i], order[k] = order[k], order[i]
end
local idx = dagl.tensor(order, "int64")
local xs, ys = x:index_select(1, idx), y:index_select(1, idx)
local xb, yb = {}, {}
for i = 1, n, bs do
  local j = math.min(i + bs - 1, n)
  xb[#xb + 1], yb[#yb + 1] = xs:narrow(1, i, j - i + 1):contiguous(), ys:narrow(1, i, j - i + 1):contiguous()
end
io.stderr:write(("fit_overhead: %s, %d batches of %d, %d thread(s), %d reps\n"):format(which, #xb, bs,
  dagl.num_threads(), reps))

local function time_fit()
  local t0 = dagl.wall_time()
  model:fit(x, y, {epochs = 1, batch_size = bs, verbose = 0})
  return dagl.wall_time() - t0
end
local function time_steps()
  local t0 = dagl.wall_time()
  for b = 1, #xb do model:train_on_batch(xb[b], yb[b]) end
  return dagl.wall_time() - t0
end
model:fit(x:narrow(1, 1, 4 * bs), y:narrow(1, 1, 4 * bs), {epochs = 1, batch_size = bs, verbose = 0}) -- traced, warm
model:train_on_batch(xb[1], yb[1])
local best_fit, best_steps = math.huge, math.huge
for _ = 1, reps do
  best_steps = math.min(best_steps, time_steps())
  best_fit = math.min(best_fit, time_fit())
end
print(("RESULT fit_epoch %.6f"):format(best_fit))
print(("RESULT train_on_batch_epoch %.6f"):format(best_steps))
print(("RESULT fit_ratio %.4f"):format(best_fit / best_steps))

-- predict against the traced forward function on the same batches
local pbs = 256
local pb = {}
for i = 1, xt:size(1), pbs do pb[#pb + 1] = xt:narrow(1, i, math.min(pbs, xt:size(1) - i + 1)):contiguous() end
model:predict(pb[1], {batch_size = pbs}) -- traces model.forward
local forward = model.forward
local function time_predict()
  local t0 = dagl.wall_time()
  local p <close> = model:predict(xt, {batch_size = pbs})
  return dagl.wall_time() - t0
end
local function time_forward()
  local t0 = dagl.wall_time()
  for b = 1, #pb do
    local r <close> = forward(pb[b])
  end
  return dagl.wall_time() - t0
end
local best_p, best_f = math.huge, math.huge
for _ = 1, reps * 2 do
  best_f = math.min(best_f, time_forward())
  best_p = math.min(best_p, time_predict())
end
print(("RESULT predict_seconds %.6f"):format(best_p))
print(("RESULT forward_seconds %.6f"):format(best_f))
print(("RESULT predict_ratio %.4f"):format(best_p / best_f))
