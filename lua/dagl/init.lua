--- dagl: tensors, graphs and neural networks over a C core.
-- `require "dagl"` returns the C module (dagl.core) extended with the Lua-side library.
local core = require "dagl.core"

local dagl = {}
for k, v in pairs(core) do dagl[k] = v end

--- Dtype names, usable wherever a dtype is taken.
dagl.float32, dagl.float64, dagl.int64 = "float32", "float64", "int64"

return dagl
