-- gen_options.lua -- writes docs/options.md from the option declarations (dagl.options):
--   build/dagl docs/gen_options.lua            (writes docs/options.md next to this file)
--   build/dagl docs/gen_options.lua --check    (exit status 1 when the file is not current)
local options = require "dagl.options"
require "dagl.nn"
require "dagl.data"
require "dagl.ffi"
require "dagl.dist"
for _, m in ipairs {"dagl.api_options"} do pcall(require, m) end

local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local path = dir .. "/options.md"
local text = options.markdown()
if arg[1] == "--check" then
  local f = io.open(path, "rb")
  local old = f and f:read("a")
  if f then f:close() end
  if old ~= text then
    io.stderr:write(path .. " is not current: run build/dagl docs/gen_options.lua\n")
    os.exit(1)
  end
else
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
