-- bench/w9.lua MODEL [STEPS] -- W9 in dagl (issue 16): data-parallel training samples per second,
-- run under mpirun (`mpirun --allow-run-as-root -np 2 dagl --threads 1 bench/w9.lua mlp`) or as one
-- rank (`dagl --threads 2 bench/w9.lua mlp`). MODEL: mlp (W2's 784-256-256-10) or cnn (Conv2D(32,
-- 3)-MaxPool-Conv2D(64, 3)-MaxPool-Flatten-Dense(10) on 28x28x1); a global batch of 128 (split over
-- the ranks), Adam, random data of Fashion-MNIST's shapes. fit over STEPS (default 200) global
-- batches after a warm-up epoch; rank 0 prints RESULT w9_<model>_samples_per_s. With W9_TRACE=PATH
-- the timed epoch runs under dagl.trace, which writes one JSON of every rank to PATH for
-- bench/w9_overlap.py (the share of allreduce time hidden behind nodes).
local dagl = require "dagl"
local nn = dagl.nn
local dist = dagl.dist.init {timeout = 120}

local which, steps = arg[1] or "mlp", tonumber(arg[2] or "200")
local global = 128
local n = steps * global
math.randomseed(1)
dagl.manual_seed(1)
local shape = which == "cnn" and {28, 28, 1} or {784}
local x = dagl.rand({n, table.unpack(shape)})
local y = (dagl.rand({n}) * 10):floor_divide(1):to("int64")
local model
if which == "cnn" then
  model = nn.Sequential {
    nn.Conv2D(32, 3, {activation = "relu", input_shape = shape}), nn.MaxPooling2D(2),
    nn.Conv2D(64, 3, {activation = "relu"}), nn.MaxPooling2D(2), nn.Flatten(), nn.Dense(10, "softmax")}
else
  model = nn.Sequential {nn.Dense(256, "relu", {input_shape = shape}), nn.Dense(256, "relu"), nn.Dense(10, "softmax")}
end
model:compile {optimizer = nn.Adam {learning_rate = 1e-3}, loss = "sparse_categorical_crossentropy"}
local per_rank = global // dist.size()
local warm = math.min(n, 8 * global)
model:fit(x:narrow(1, 1, warm), y:narrow(1, 1, warm), {epochs = 1, batch_size = per_rank, verbose = 0})
local trace = os.getenv("W9_TRACE") -- a path: the timed epoch runs under dagl.trace (bench/w9_overlap.py)
local t0 = dagl.wall_time()
if trace then
  dagl.trace {json = trace}(function() model:fit(x, y, {epochs = 1, batch_size = per_rank, verbose = 0}) end)
else
  model:fit(x, y, {epochs = 1, batch_size = per_rank, verbose = 0})
end
local seconds = dagl.wall_time() - t0
if dist.rank() == 0 then
  print(("w9: %s, %d rank(s) x %d thread(s), %d global batches of %d"):format(which, dist.size(), dagl.num_threads(),
    steps, global))
  print(("RESULT w9_%s_samples_per_s %.1f"):format(which, n / seconds))
end
