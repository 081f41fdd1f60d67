-- keras_style.lua -- the digits MLP of digits_mlp.lua written as a Keras user writes it:
-- positional activations (Dense(128, "relu")), input_shape on the first layer (so summary()
-- works before training), the optimizer, loss and metric by name with Keras's option names
-- (learning_rate), one callback given alone (not in a list), validation_split. It trains the
-- same real data (1,797 handwritten 8x8 digits, examples/data) to the same held-out accuracy as
-- the docs' style: about 96-97%.
--   build/dagl examples/keras_style.lua [epochs=30]
local dagl = require "dagl"
local nn = dagl.nn

local epochs = math.tointeger(tonumber(arg[1])) or 30
local digits = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/digits_data.lua")
local x_train, y_train = digits.load() -- pixels scaled to 0..1, labels 0..9

-- model = keras.Sequential([Dense(128, activation="relu", input_shape=(64,)), ...])
local model = nn.Sequential{
  nn.Dense(128, "relu", {input_shape = {64}}),
  nn.Dense(64, "relu"),
  nn.Dense(10, "softmax"),
}
model:summary()

model:compile{optimizer = nn.Adam{learning_rate = 0.001},
              loss = "sparse_categorical_crossentropy",
              metrics = "accuracy"}

local t0 = dagl.wall_time()
local history = model:fit(x_train, y_train, {
  epochs = epochs, batch_size = 32, validation_split = 0.2,
  callbacks = nn.callbacks.EarlyStopping{monitor = "val_loss", patience = 5, restore_best_weights = true},
})
-- the weights now are the best epoch's (restore_best_weights): score them on the held-out rows
local n = #y_train
local nv = math.floor(n * 0.2)
local x_val = x_train:slice(1, n - nv + 1, n)
local y_val = table.move(y_train, n - nv + 1, n, 1, {})
local logs = model:evaluate(x_val, y_val, {return_dict = true})
print(("trained %d epochs in %.1f s; validation accuracy %.1f%% (%d held-out digits)"):format(
  #history.loss, dagl.wall_time() - t0, 100 * logs.accuracy, nv))
