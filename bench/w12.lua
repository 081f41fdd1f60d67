-- bench/w12.lua MODEL EPOCHS [DIR] -- W12: Fashion-MNIST training and prediction in dagl (run as
-- `dagl --threads N bench/w12.lua cnn 2 /tmp/fmnist`). MODEL is "cnn" (the Keras tutorial CNN)
-- or "mlp" (784-256-256-10). The data are the IDX files themselves (dagl.data.fashion_mnist: uint8
-- images, 1 byte per pixel, and uint8 labels) from DIR when it holds them, else from Debian's
-- /usr/share/datasets/fashion-mnist (DIR may be bench/w12_data.py's .npy folder, which PyTorch's
-- bench/w12.py reads); the models scale the bytes by 1/255 in their graph (nn.Rescaling), which
-- gives bit for bit the float32 values of w12_data.py's x / 255. Prints RESULT lines: the load
-- seconds, the last epoch's seconds, predict images per second on the test set, test accuracy.
local dagl = require "dagl"
local nn = require "dagl.nn"

local which, epochs, dir = arg[1] or "cnn", tonumber(arg[2] or "2"), arg[3] or "/tmp/fmnist"
local function has_idx(d)
  for _, name in ipairs {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"} do
    local h = io.open(d .. "/" .. name, "rb")
    if h then h:close() return true end
  end
end
local l0 = dagl.wall_time()
local x, y, xt, yt = dagl.data.fashion_mnist {dir = has_idx(dir) and dir or nil}
print(("RESULT load_seconds %.6f"):format(dagl.wall_time() - l0))
math.randomseed(1)

local model
if which == "cnn" then
  x, xt = x:reshape(-1, 28, 28, 1), xt:reshape(-1, 28, 28, 1) -- views: still 1 byte per pixel
  model = nn.Sequential {
    nn.Rescaling(1 / 255, {input_shape = {28, 28, 1}}),
    nn.Conv2D(32, 3, {activation = "relu"}),
    nn.MaxPooling2D(2),
    nn.Conv2D(64, 3, {activation = "relu"}),
    nn.MaxPooling2D(2),
    nn.Flatten(),
    nn.Dropout(0.5),
    nn.Dense(10, "softmax"),
  }
else
  x, xt = x:reshape(-1, 784), xt:reshape(-1, 784)
  model = nn.Sequential {
    nn.Rescaling(1 / 255, {input_shape = {784}}),
    nn.Dense(256, "relu"),
    nn.Dense(256, "relu"),
    nn.Dense(10, "softmax"),
  }
end
model:compile {optimizer = nn.Adam {learning_rate = 0.001}, loss = "sparse_categorical_crossentropy",
               metrics = {"accuracy"}}

local t0, last = 0, 0
model:fit(x, y, {epochs = epochs, batch_size = 128, verbose = 0, callbacks = {
  on_epoch_begin = function() t0 = dagl.wall_time() end,
  on_epoch_end = function() last = dagl.wall_time() - t0 end,
}})
print(("RESULT %s_epoch %.6f"):format(which, last))
model:predict(xt:narrow(1, 1, 256), {batch_size = 256}) -- warm the predict graph
local p0 = dagl.wall_time()
local p = model:predict(xt, {batch_size = 256})
local dt = dagl.wall_time() - p0
print(("RESULT %s_predict_ips %.1f"):format(which, xt:size(1) / dt))
local acc = (p:argmax(2):reshape(-1) - 1):eq(yt):float():mean():item() -- argmax is 1-based
print(("RESULT %s_test_acc %.4f"):format(which, acc))
