-- digits_mlp.lua -- trains a small MLP on real handwritten digits (1,797 8x8 images shipped in
-- examples/data, from scikit-learn/UCI) with nn.Sequential, SGD with momentum and the softmax
-- cross-entropy; each training step (forward, loss, backward) is one graph run on the threaded
-- scheduler. Reaches about 96-97% accuracy on the held-out 20% (the last epoch's figure varies a bit).
--   build/dagl examples/digits_mlp.lua [epochs=30]
local dagl = require "dagl"
local nn = dagl.nn

local epochs = math.tointeger(tonumber(arg[1])) or 30
local digits = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/digits_data.lua")
local xs, ys = digits.load()

local model = nn.Sequential{
  nn.Dense(128, {activation = "relu"}),
  nn.Dense(64, {activation = "relu"}),
  nn.Dense(10), -- logits
}
digits.train(model, xs, ys, epochs, 0.02, {32, 64})
