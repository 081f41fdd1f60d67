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
local digits = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/digits_data.lua")
local xs, ys = digits.load()
local images = xs:reshape(#ys, 8, 8, 1):contiguous() -- (N, height, width, channels)

local model = nn.Sequential{
  nn.Conv2D(16, 3, {padding = "same", activation = "relu"}),
  nn.MaxPool2D(2),
  nn.Conv2D(32, 3, {padding = "same", activation = "relu"}),
  nn.Flatten(),
  nn.Dense(10), -- logits
}
digits.train(model, images, ys, epochs, 0.01, {32, 8, 8, 1})
