-- fashion_mnist_lstm.lua -- an LSTM reading Fashion-MNIST images row by row: 28 steps of 28
-- pixels, LSTM(128) -> Dense(10), Adam, as the Keras sequence tutorials do. Needs Debian's
-- dataset-fashion-mnist (the IDX files under /usr/share/datasets/fashion-mnist, read with
-- dagl.data.fashion_mnist). Prints each epoch's progress and the test accuracy (85% or more after
-- 2 epochs), and, with a second argument, runs a Bidirectional LSTM instead.
--   build/dagl examples/fashion_mnist_lstm.lua [epochs=2] [bidirectional]
local dagl = require "dagl"
local nn = dagl.nn

local epochs = math.tointeger(tonumber(arg[1])) or 2
local bidirectional = arg[2] == "bidirectional"
local x, y, xt, yt = dagl.data.fashion_mnist()
-- (N, 28, 28) uint8 images as (N, steps = 28 rows, features = 28 pixels), scaled in the graph
x, xt = x:reshape(-1, 28, 28), xt:reshape(-1, 28, 28)

local rnn = nn.LSTM(128)
local model = nn.Sequential {
  nn.Rescaling(1 / 255, {input_shape = {28, 28}}),
  bidirectional and nn.Bidirectional(rnn) or rnn,
  nn.Dense(10, "softmax"),
}
model:compile {optimizer = nn.Adam {learning_rate = 0.002}, loss = "sparse_categorical_crossentropy",
               metrics = {"accuracy"}}
print(("fashion_mnist_lstm: %s, %d training and %d test sequences of 28 x 28, %d thread(s)")
  :format(bidirectional and "Bidirectional(LSTM(128))" or "LSTM(128)", x:size(1), xt:size(1), dagl.num_threads()))
model:fit(x, y, {epochs = epochs, batch_size = 128})
local logs = model:evaluate(xt, yt, {batch_size = 500, return_dict = true})
print(("test loss %.4f, test accuracy %.4f"):format(logs.loss, logs.accuracy))
