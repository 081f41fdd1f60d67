--- dagl.nn.losses: loss functions (traced into the training graph) and one_hot.
local dagl = require "dagl"

local nn = require "dagl.nn.base"
-- Log-softmax over the last dim, stable (shifted by the row maximum).
local function log_softmax(z)
  local shifted = z - z:max(-1, true)
  return shifted - shifted:exp():sum(-1, true):log()
end

nn.losses = {
  mse = function(pred, y) return ((pred - y) ^ 2):mean() end,
  mae = function(pred, y) return (pred - y):abs():mean() end,
  --- labels as one-hot rows (dagl.nn.one_hot); predictions are logits
  categorical_crossentropy = function(logits, onehot)
    return -(onehot * log_softmax(logits)):sum() / logits.shape[1]
  end,
}
-- integer labels are turned into one-hot rows before the graph runs (see Model:fit)
nn.losses.sparse_categorical_crossentropy = nn.losses.categorical_crossentropy

--- One-hot rows (float32) of integer class labels 0..n-1 given as a tensor or a table.
function nn.one_hot(labels, n)
  local t = type(labels) == "table" and labels or labels:totable()
  local out = dagl.zeros(#t, n)
  for i, c in ipairs(t) do
    local k = math.tointeger(c)
    if not k or k < 0 or k >= n then error(("one_hot: label %s at %d is not in 0..%d"):format(tostring(c), i, n - 1), 2) end
    out[i][k + 1] = 1
  end
  return out
end
