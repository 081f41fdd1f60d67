-- examples/embed/model.lua -- the model that examples/embed/serve.c serves: an iris classifier
-- defined with dagl.nn. It defines the global `predict` (any callable mapping input tensors to
-- output tensors will do); serve.c loads it with dagl_model_load(rt, "predict", &m). The layers
-- have fixed names, so the weight names in the file do not depend on what else was built.
local nn = require("dagl").nn

local model = nn.Sequential {
  nn.Dense(16, {activation = "relu", name = "hidden1"}),
  nn.Dense(16, {activation = "tanh", name = "hidden2"}),
  nn.Dense(3, {activation = "softmax", name = "classes"}),
}
model:build {1, 4}

-- the weights: the global weights_path (serve.c sets it), as written by examples/embed/train.lua
if weights_path then model:load_weights(weights_path) end

predict = model
return model
