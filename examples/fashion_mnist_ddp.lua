-- fashion_mnist_ddp.lua -- data-parallel training on Fashion-MNIST (Debian's dataset-fashion-mnist,
-- /usr/share/datasets/fashion-mnist) with dagl.dist: every MPI rank trains the same MLP on its
-- share of each global batch; gradients are averaged in buckets inside the traced step, while the
-- rest of backward runs; the loss and accuracy are averaged over the ranks; rank 0 alone prints
-- and writes the weights. Reaches about 85% on the 10,000 test images after one epoch.
--   mpirun --allow-run-as-root -np 2 build/dagl examples/fashion_mnist_ddp.lua [epochs=1] [rows=60000]
--   build/dagl examples/fashion_mnist_ddp.lua      (without mpirun: one rank, the same script)
-- Threads per rank: by default dagl divides the cores among the ranks mpirun started on this
-- machine; DAGL_NUM_THREADS (mpirun -x DAGL_NUM_THREADS=2) or --threads say otherwise.
local dagl = require "dagl"
local nn = dagl.nn
local dist = dagl.dist.init{timeout = 120}

local epochs = math.tointeger(tonumber(arg[1])) or 1
local rows = math.tointeger(tonumber(arg[2])) or 60000

local x, y, xt, yt = dagl.data.fashion_mnist()
x, y = x:narrow(1, 1, rows):reshape(-1, 784), y:narrow(1, 1, rows)
xt = xt:reshape(-1, 784)
if dist.rank() == 0 then
  print(("%d ranks x %d threads; %d training images, batch 64 per rank (%d in all)"):format(dist.size(),
    dagl.num_threads(), rows, 64 * dist.size()))
end

math.randomseed(1) -- rank 0's draws give the shuffle seeds; its initial weights go to every rank
local model = nn.Sequential {
  nn.Rescaling(1 / 255, {input_shape = {784}}),
  nn.Dense(256, "relu"),
  nn.Dense(128, "relu"),
  nn.Dense(10, "softmax"),
}
model:compile {optimizer = nn.Adam {learning_rate = 0.001}, loss = "sparse_categorical_crossentropy",
               metrics = {"accuracy"}}
local t0 = dagl.wall_time()
local history = model:fit(x, y, {epochs = epochs, batch_size = 64, verbose = 2})
local seconds = dagl.wall_time() - t0

-- every rank holds the same weights (bitwise): each checks its share of the test set, and the
-- correct answers are summed over the ranks
local n = xt:size(1)
local first = dist.rank() * n // dist.size() + 1
local last = (dist.rank() + 1) * n // dist.size()
local p = model:predict(xt:narrow(1, first, last - first + 1))
local correct = (p:argmax(2):reshape(-1) - 1):eq(yt:narrow(1, first, last - first + 1)):double():sum()
local accuracy = dist.allreduce(correct):item() / n
if dist.rank() == 0 then
  print(("trained %d epoch(s) in %.1f s (%.0f images/s over all ranks); final loss %.4f"):format(epochs, seconds,
    epochs * (rows - rows % dist.size()) / seconds, history.loss[#history.loss]))
  print(("test accuracy %.1f%%"):format(100 * accuracy))
  local out = os.getenv("DAGL_DDP_WEIGHTS")
  if out then model:save_weights(out) end -- rank 0 writes; the others hold the same weights
end
