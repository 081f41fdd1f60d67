-- bench/w11.lua CASE [REPS] -- W11 in dagl (issue 17): sequence layers, forward and training step.
-- CASE: lstm (LSTM(256) over 100 steps of 64 features, batch 32), bilstm (the same through
-- Bidirectional, concat), transformer (an encoder layer: MultiHeadAttention(4 heads, d_model 256)
-- + residual + LayerNormalization + Dense(1024, relu) -> Dense(256) + residual + LayerNormalization,
-- sequence 128, batch 8). Prints RESULT <case>_forward_ms and <case>_train_ms: the fastest of REPS
-- (default 10) traced forward passes and train_on_batch steps (Adam, MSE to a fixed target).
-- Run as `dagl --threads 1 bench/w11.lua lstm`; bench/w11.py does the same in PyTorch.
local dagl = require "dagl"
local nn = dagl.nn

local case, reps = arg[1] or "lstm", tonumber(arg[2] or "10")
dagl.manual_seed(1)
local model, x, y
if case == "lstm" or case == "bilstm" then
  local rnn = nn.LSTM(256, {return_sequences = true})
  model = nn.Sequential {case == "bilstm" and nn.Bidirectional(rnn, {input_shape = {100, 64}})
                         or nn.LSTM(256, {return_sequences = true, input_shape = {100, 64}})}
  x = dagl.randn(32, 100, 64)
  y = dagl.randn(32, 100, case == "bilstm" and 512 or 256)
elseif case == "transformer" then
  local inp = nn.Input {shape = {128, 256}}
  local att = nn.MultiHeadAttention {num_heads = 4, key_dim = 64}({inp, inp})
  local h = nn.LayerNormalization {epsilon = 1e-5}(nn.Add()({inp, att}))
  local ff = nn.Dense(256)(nn.Dense(1024, "relu")(h))
  local out = nn.LayerNormalization {epsilon = 1e-5}(nn.Add()({h, ff}))
  model = nn.Model(inp, out)
  x = dagl.randn(8, 128, 256)
  y = dagl.randn(8, 128, 256)
else
  error("w11.lua: CASE must be lstm, bilstm or transformer, not " .. case)
end
model:compile {optimizer = nn.Adam {learning_rate = 1e-3}, loss = "mse"}
model:predict(x, {batch_size = x:size(1)}) -- traces the forward graph
model:train_on_batch(x, y) -- traces the training step
local function best(f)
  local b = math.huge
  for _ = 1, reps do
    local t0 = dagl.wall_time()
    f()
    b = math.min(b, dagl.wall_time() - t0)
  end
  return b * 1e3
end
local fwd = best(function() local p <close> = model:predict(x, {batch_size = x:size(1)}) end)
local train = best(function() model:train_on_batch(x, y) end)
print(("RESULT %s_forward_ms %.3f"):format(case, fwd))
print(("RESULT %s_train_ms %.3f"):format(case, train))
