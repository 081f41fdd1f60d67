-- transformer_encoder.lua -- a small Transformer encoder classifying Fashion-MNIST images read as
-- 28 tokens (the rows) of 28 pixels: Dense(64) token embedding + sine/cosine positions, two
-- encoder blocks (MultiHeadAttention with 4 heads, residual, LayerNormalization, a ReLU
-- feed-forward of 128, residual, LayerNormalization), then the mean over tokens and Dense(10).
-- Built with the functional API; Keras's TransformerEncoder tutorial block. Needs Debian's
-- dataset-fashion-mnist. Prints the progress and the test accuracy (about 85% after 2 epochs).
--   build/dagl examples/transformer_encoder.lua [epochs=2]
local dagl = require "dagl"
local nn = dagl.nn

local epochs = math.tointeger(tonumber(arg[1])) or 2
local d_model, heads, ff = 64, 4, 128
local x, y, xt, yt = dagl.data.fashion_mnist()
x, xt = x:reshape(-1, 28, 28), xt:reshape(-1, 28, 28)

-- the sine/cosine positional encoding of "Attention Is All You Need", (28, d_model)
local pos = dagl.arange(28):reshape(28, 1)
local i = dagl.arange(d_model):reshape(1, d_model)
local angle = pos / (10000 ^ ((i // 2) * 2 / d_model))
local even = i:remainder(2):eq(0)
local positions = dagl.where(even, angle:sin(), angle:cos())

-- one encoder block on (batch, tokens, d_model)
local function encoder_block(h)
  local att = nn.MultiHeadAttention {num_heads = heads, key_dim = d_model // heads, dropout = 0.1}({h, h})
  h = nn.LayerNormalization {epsilon = 1e-6}(nn.Add()({h, nn.Dropout(0.1)(att)}))
  local f = nn.Dense(d_model)(nn.Dense(ff, "relu")(h))
  return nn.LayerNormalization {epsilon = 1e-6}(nn.Add()({h, nn.Dropout(0.1)(f)}))
end

-- a layer adding the fixed positions to every sample
local AddPositions = nn.layer_class("add_positions")
function AddPositions.new(o)
  local self = setmetatable({}, AddPositions)
  self:init(o or {})
  self:add_weight {name = "positions", value = positions, trainable = false}
  self.table = self.weights[1].value
  return self
end
function AddPositions:call(h) return h + self.table end
nn.register_layer("add_positions", AddPositions)

local inp = nn.Input {shape = {28, 28}}
local h = nn.Dense(d_model)(nn.Rescaling(1 / 255)(inp))
h = AddPositions()(h)
h = encoder_block(encoder_block(h))
local out = nn.Dense(10, "softmax")(nn.GlobalAveragePooling1D()(h))
local model = nn.Model(inp, out)
model:compile {optimizer = nn.Adam {learning_rate = 1e-3}, loss = "sparse_categorical_crossentropy",
               metrics = {"accuracy"}}
print(("transformer_encoder: 2 blocks, d_model %d, %d heads; %d training images as 28 tokens; %d thread(s)")
  :format(d_model, heads, x:size(1), dagl.num_threads()))
model:fit(x, y, {epochs = epochs, batch_size = 128})
local logs = model:evaluate(xt, yt, {batch_size = 500, return_dict = true})
print(("test loss %.4f, test accuracy %.4f"):format(logs.loss, logs.accuracy))
