-- examples/embed/model.lua -- the model that examples/embed/serve.c serves: a small classifier
-- defined with dagl.nn. It defines the global `predict` (any callable mapping input tensors to
-- output tensors will do); serve.c loads it with dagl_model_load(rt, "predict", &m).
local nn = dagl.nn

dagl.manual_seed(7)
local model = nn.Sequential {
  nn.Dense(16, {activation = "relu"}),
  nn.Dense(16, {activation = "tanh"}),
  nn.Dense(3, {activation = "softmax"}),
}
model:build {1, 4}

-- weights from a file, when serve.c was given one (safetensors, as written by model:save_weights)
local weights = os.getenv("DAGL_EMBED_WEIGHTS")
if weights and weights ~= "" and nn.load_weights then nn.load_weights(model, weights) end

predict = model
