--- dagl.nn.shared: what the parts of dagl.nn share that is not public (the common option lists
-- of layers, Keras's fans of a weight shape, the feature-axis option type, shape checks).
local M = {}

--- "[2, 3]" for messages.
function M.shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

--- Raises unless `shape` is a (batch, height, width, channels) image batch, naming the layer.
function M.check_image(shape, layer)
  if #shape ~= 4 then
    error(("%s: expects images of shape (batch, height, width, channels), got %s"):format(layer, M.shape_str(shape)), 0)
  end
end

--- x (batch, height, width, channels) with t, b zero rows before/after and l, r zero columns
-- before/after; the zeros join x's trace when x is traced (ZeroPadding2D, "same" depthwise).
function M.pad_image(x, t, b, l, r)
  if t + b + l + r == 0 then return x end
  local dagl, fn = require "dagl", require "dagl.fn"
  local s = x.shape
  local function zeros(shape)
    local z = dagl.zeros(shape, x:dtype())
    return dagl.is_symbol(x) and fn.lift(x, z) or z
  end
  local cols = {}
  if l > 0 then cols[#cols + 1] = zeros({s[1], s[2], l, s[4]}) end
  cols[#cols + 1] = x
  if r > 0 then cols[#cols + 1] = zeros({s[1], s[2], r, s[4]}) end
  local y = #cols > 1 and dagl.concat(cols, 3) or x
  local rows = {}
  if t > 0 then rows[#rows + 1] = zeros({s[1], t, s[3] + l + r, s[4]}) end
  rows[#rows + 1] = y
  if b > 0 then rows[#rows + 1] = zeros({s[1], b, s[3] + l + r, s[4]}) end
  return #rows > 1 and dagl.concat(rows, 2) or y
end

--- Raises "<what>: unknown call option 'k' (did you mean '...'? options: ...)" for a key of the call
-- options table o that is not in `names` (a list): the recurrent layers' and MultiHeadAttention's.
function M.check_call_options(what, o, names)
  for k in pairs(o) do
    local known = false
    for _, n in ipairs(names) do known = known or k == n end
    if not known then
      local near = type(k) == "string" and require("dagl.options").nearest(k, names)
      error(("%s: unknown call option '%s' (%soptions: %s)"):format(what, tostring(k),
        near and ("did you mean '%s'? "):format(near) or "", table.concat(names, ", ")), 0)
    end
  end
end

return M
