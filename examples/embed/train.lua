-- examples/embed/train.lua -- trains the model of examples/embed/model.lua on the iris data set
-- (examples/data/iris.csv) and writes its weights as safetensors for examples/embed/serve.c:
--   build/dagl examples/embed/train.lua [out=examples/embed/iris.safetensors]
local dagl = require "dagl"
local nn = dagl.nn
local out = arg[1] or "examples/embed/iris.safetensors"

dagl.manual_seed(11)
math.randomseed(11)
weights_path = nil
local model = dofile("examples/embed/model.lua")
local x, y = dagl.data.read_csv_dataset("examples/data/iris.csv", {header = true, label_column = -1})
model:compile{optimizer = nn.Adam{lr = 0.01}, loss = "sparse_categorical_crossentropy", metrics = {"accuracy"}}
local h = model:fit(x, y, {epochs = 150, batch_size = 16, verbose = false})
print(("iris: %d rows, training accuracy %.1f%% after %d epochs"):format(x.shape[1], 100 * h.accuracy[#h.accuracy],
  #h.accuracy))
model:save_weights(out)
print("wrote " .. out)
