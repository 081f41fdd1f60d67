-- Parity with PyTorch: the models of spec/fixtures/make_parity.py, an MLP (Linear 6->5, ReLU,
-- LayerNorm, Linear 5->3) and a CNN (Conv2D same + ReLU, BatchNormalization at inference,
-- MaxPool2D, Conv2D stride 2 valid, GlobalAveragePooling2D, Dense), built with dagl.nn and loaded
-- with torch's weights, give torch's logits, softmax cross-entropy loss and weight gradients (the
-- fixtures were written by torch; no torch needed).
local dagl = require "dagl"
local nn = dagl.nn

local F = "spec/fixtures/"

-- Largest |got - want| relative to max(1e-3, |want|) over all elements.
local function max_rel_err(got, want)
  local g, w = got:double(), want:double()
  local scale = dagl.maximum(w:abs(), dagl.full(w.shape, 1e-3, "float64"))
  return ((g - w):abs() / scale):max():item()
end

local function model_with_torch_weights()
  local model = nn.Sequential{
    nn.Dense(5, {activation = "relu", name = "dense_p1"}),
    nn.LayerNormalization{epsilon = 1e-5, name = "norm_p"}, -- torch's default epsilon
    nn.Dense(3, {name = "dense_p2"}),
  }
  local data = dagl.load_npz(F .. "parity_data.npz")
  model(data.x) -- builds the weights from the input shape
  nn.load_weights(model, F .. "parity_weights.safetensors")
  return model, data
end

-- The model's logits on the fixture input have the given shape and torch's values (1e-4 relative).
local function check_logits(model, data, shape)
  local logits = model(data.x)
  assert.same(shape, logits.shape)
  local err = max_rel_err(logits, data.logits)
  assert.is_true(err < 1e-4, "logits differ by " .. err)
end

-- The trainable weights of a model, in layer order, and their names.
local function trainable(model)
  local params, names = {}, {}
  for _, layer in ipairs(model.layers) do
    for _, w in ipairs(layer.weights) do
      if w.trainable ~= false then
        params[#params + 1] = w.value
        names[#names + 1] = w.name
      end
    end
  end
  return params, names
end

-- Checks the model's softmax cross-entropy loss on the fixture data and its gradients w.r.t. every
-- trainable weight (and, when the fixture has dx, the input) against torch's, within 1e-4 relative.
local function check_loss_and_grads(model, data, grads_file, nweights)
  local onehot = nn.one_hot(data.labels, 3)
  local params, names = trainable(model)
  assert.equal(nweights, #params)
  -- the labels are an argument: a traced function takes real tensors through its arguments
  local xent = nn.losses.CategoricalCrossentropy{from_logits = true} -- torch.nn.CrossEntropyLoss takes logits
  local vg = dagl.grad(function(x, oh) return xent(model(x), oh) end, {wrt = params})
  local res = table.pack(vg(data.x, onehot)) -- loss, d/dx, d/d(onehot), then d/d(each weight)
  local loss = res[1]:item()
  local want = data.loss:item()
  assert.is_true(math.abs(loss - want) <= 1e-4 * math.abs(want), ("loss %.9g, torch %.9g"):format(loss, want))
  local grads = dagl.load_safetensors(F .. grads_file)
  local checks = {}
  for i, name in ipairs(names) do checks[#checks + 1] = {name, res[3 + i], grads[name]} end
  if data.dx then checks[#checks + 1] = {"input", res[2], data.dx} end
  for _, c in ipairs(checks) do
    local name, got, expect = c[1], c[2], c[3]
    assert.same(expect.shape, got.shape, name)
    assert.is_true(expect:abs():max():item() > 0, name .. ": torch's gradient is all zero")
    local err = max_rel_err(got, expect)
    assert.is_true(err < 1e-4, ("%s: gradient differs from torch's by %g (relative)"):format(name, err))
  end
end

describe("PyTorch parity", function()
  it("loads torch's weights into the right places", function()
    local model = model_with_torch_weights()
    local w = dagl.load_safetensors(F .. "parity_weights.safetensors")
    assert.same({6, 5}, model.layers[1].kernel.shape)
    assert.equal(0, (model.layers[1].kernel - w["dense_p1/kernel"]):abs():max():item())
    assert.equal(0, (model.layers[2].gamma - w["norm_p/gamma"]):abs():max():item())
    assert.is_true(w["norm_p/gamma"]:min():item() < 0.9) -- not the identity scale
  end)

  it("computes torch's forward outputs", function()
    local model, data = model_with_torch_weights()
    check_logits(model, data, {4, 3})
  end)

  it("computes torch's softmax cross-entropy loss and weight gradients", function()
    local model, data = model_with_torch_weights()
    check_loss_and_grads(model, data, "parity_grads.safetensors", 6)
  end)

  describe("a CNN on channels-last images", function()
    local function cnn_with_torch_weights()
      local model = nn.Sequential{
        nn.Conv2D(4, 3, {padding = "same", activation = "relu", name = "conv_p1"}),
        nn.BatchNormalization{epsilon = 1e-5, name = "bn_p"}, -- torch's default epsilon
        nn.MaxPool2D(2),
        nn.Conv2D(5, 3, {strides = 2, name = "conv_p2"}),
        nn.GlobalAveragePooling2D(),
        nn.Dense(3, {name = "dense_p3"}),
      }
      local data = dagl.load_npz(F .. "cnn_parity_data.npz")
      model(data.x)
      nn.load_weights(model, F .. "cnn_parity_weights.safetensors")
      return model, data
    end

    it("computes torch's logits (BatchNorm from its running statistics)", function()
      local model, data = cnn_with_torch_weights()
      assert.is_true(model.layers[2].moving_variance:max():item() > 1.5) -- torch's statistics were loaded
      check_logits(model, data, {3, 3})
    end)

    it("computes torch's loss and the gradients of every weight and of the input", function()
      local model, data = cnn_with_torch_weights()
      check_loss_and_grads(model, data, "cnn_parity_grads.safetensors", 8)
    end)
  end)
end)
