-- bench/w12_profile.lua [MODEL] [STEPS] [DIR] -- where a training step of W12's CNN or MLP (MODEL
-- "cnn" or "mlp", as in bench/w12.lua) spends its time: STEPS train_on_batch steps on one batch
-- of 128 Fashion-MNIST images (DIR from
-- bench/w12_data.py, default /tmp/fmnist) run under dagl.trace, then one line per graph node:
-- its fastest and median time over the steps (ms; the fastest is the one to compare when other
-- programs share the machine) and its share of the step. Run as
-- `dagl --threads 1 bench/w12_profile.lua cnn 30 /tmp/fmnist` (docs/performance.md).
local dagl = require "dagl"
local nn = require "dagl.nn"
local json = require "dagl.json"

local which, steps, dir = arg[1] or "cnn", tonumber(arg[2] or "30"), arg[3] or "/tmp/fmnist"
if which ~= "cnn" and which ~= "mlp" then error("w12_profile.lua: MODEL must be cnn or mlp, not " .. which) end
local x, y = dagl.load_npy(dir .. "/x_train.npy"), dagl.load_npy(dir .. "/y_train.npy")
local model = which == "mlp" and nn.Sequential {
  nn.Flatten {input_shape = {28, 28, 1}},
  nn.Dense(256, "relu"),
  nn.Dense(256, "relu"),
  nn.Dense(10, "softmax"),
} or nn.Sequential {
  nn.Conv2D(32, 3, {activation = "relu", input_shape = {28, 28, 1}}),
  nn.MaxPooling2D(2),
  nn.Conv2D(64, 3, {activation = "relu"}),
  nn.MaxPooling2D(2),
  nn.Flatten(),
  nn.Dropout(0.5),
  nn.Dense(10, "softmax"),
}
model:compile {optimizer = nn.Adam {learning_rate = 0.001}, loss = "sparse_categorical_crossentropy",
               metrics = {"accuracy"}}
local xb, yb = x:narrow(1, 1, 128):contiguous(), y:narrow(1, 1, 128):contiguous()
for _ = 1, 5 do model:train_on_batch(xb, yb) end -- traced, planned and warm

local path = os.tmpname()
local t0 = dagl.wall_time()
local stats = dagl.trace({json = path}, function()
  for _ = 1, steps do model:train_on_batch(xb, yb) end
end)
local wall = dagl.wall_time() - t0
local f = assert(io.open(path))
local events = json.decode(f:read("a")).traceEvents
f:close()
os.remove(path)

-- per node: its name and its time in each run (a node runs once a step)
local nodes = {}
for _, e in ipairs(events) do
  if e.cat == "node" then
    local id = e.args.node
    local n = nodes[id] or {id = id, name = e.name, runs = {}}
    nodes[id] = n
    n.runs[e.args.run] = (n.runs[e.args.run] or 0) + e.dur / 1e3
  end
end
local rows, total_min, total_med = {}, 0, 0
for _, n in pairs(nodes) do
  local t = {}
  for _, d in pairs(n.runs) do t[#t + 1] = d end
  table.sort(t)
  n.min, n.median = t[1], t[(#t + 1) // 2]
  total_min, total_med = total_min + n.min, total_med + n.median
  rows[#rows + 1] = n
end
table.sort(rows, function(a, b) return a.median > b.median end)
print(("%d steps on %d thread(s): %.2f ms a step (wall), node work %.2f ms a step (stats.work)"):format(
  steps, (dagl.num_threads()), wall / steps * 1e3, stats.work / steps * 1e3))
print(("%5s  %-28s %9s %9s %6s"):format("node", "op", "min ms", "median", "share"))
for _, n in ipairs(rows) do
  if n.median >= 0.005 then
    print(("%5d  %-28s %9.3f %9.3f %5.1f%%"):format(n.id, n.name, n.min, n.median, 100 * n.median / total_med))
  end
end
print(("%5s  %-28s %9.3f %9.3f"):format("", "all nodes", total_min, total_med))
