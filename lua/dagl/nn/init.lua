--- dagl.nn: Keras-shaped layers, models, losses, optimizers and a fit loop. Layers are
-- small Lua classes: build(input_shape) makes the weights, call(x) composes dagl ops, so a whole
-- training step (forward, loss, backward, the optimizer's in-place update as assign nodes) is
-- traced once and runs as one graph on the threaded scheduler.
--
-- Each part lives in its own file under dagl/nn/ and adds its names to the nn table; the order
-- below matters only where a part uses another's names (layers use nn.activations).
local nn = require "dagl.nn.base"
for _, part in ipairs {"layer", "core_layers", "more_layers", "conv_layers", "conv1d_layers", "depthwise_layers", "attention_layers", "recurrent_layers", "losses", "metrics", "schedules",
                       "optimizers", "callbacks", "model", "functional", "weights", "saving", "loading"} do
  require("dagl.nn." .. part)
end
return nn
