--- dagl.ffi: users' C code from Lua through libffi (reference: docs/ffi.md).
--   local lib = dagl.ffi.load("./libmine.so")          -- dlopen; nil path = the program itself
--   local f = lib:func("name", "double(double, int64)") -- declared once, called like a Lua function
--   local op = dagl.ffi.kernel{lib = lib, name = "k", inputs = 1, split = true}
-- A kernel is a C function
--   void k(float *out, const float *in1, ..., const float *inN, int64_t n, int64_t ith, int64_t nth)
-- used as an op: eagerly on tensors, and inside dagl.fn traces as a node that runs on the
-- scheduler's workers without the Lua VM lock.
local core = require "dagl.core"
local fn = require "dagl.fn"
local options = require "dagl.options"
local api = require "dagl.api_options"

local M = {}

--- dagl.ffi.load(path?) -> lib: dlopen (no path: the program itself). It takes no options.
function M.load(...)
  api.at_most("dagl.ffi.load", "one path (or none: the program itself)", 1, 1, ...)
  return api.at_user_line(core.ffi_load, ...)
end

-- A real tensor for an eager kernel argument (numbers become 0-d tensors).
local function as_tensor(x, i, name)
  if core.is_tensor(x) then return x end
  if type(x) == "number" then return core.tensor(x) end
  error(("bad argument #%d to '%s' (tensor expected, got %s)"):format(i, name, type(x)), 3)
end

-- A library dagl.ffi.load opened.
local library = options.simple(function(v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == "dagl.ffi.Library"
end, "a library from dagl.ffi.load")

local kernel_options = options.declare {name = "dagl.ffi.kernel", path = "dagl.ffi.kernel",
  probe = function(o) -- a kernel of the program's strlen: made, never called
    local spec = {lib = M.load(), name = "strlen", inputs = 1}
    for k, v in pairs(o) do spec[k] = v end
    return M.kernel(spec)
  end,
  {"lib", library, required = true, doc = "the library holding the kernel (dagl.ffi.load)"},
  {"name", "string", required = true, doc = "the kernel's symbol in lib"},
  {"inputs", "integer", min = 1, max = 8, required = true, doc = "how many tensors it takes"},
  {"shape", {"output_shape", "function"}, doc = "the output shape, or a function of the input shapes (default: the first input's)"},
  {"split", "boolean", default = false, doc = "run it in shares (ith of nth) on several workers"},
  {"grain", "integer", min = 1, default = 16384, doc = "elements per share, at least"},
  {"backward", "function", doc = "backward(g, x1, ..., out) -> the gradient of each input (dagl.grad, fit)"},
  {"module", "string", doc = "per-worker mode: the module (a require name) holding backward_fn"},
  {"backward_fn", "string", doc = "backward's name in module (default \"backward\")"},
}

--- dagl.ffi.kernel{lib=, name=, inputs=n, shape=function(in_shapes...) -> shape | table,
-- split=bool, grain=elements per share, backward=function(g, x1, ..., out), module=,
-- backward_fn=} -> a callable op.
function M.kernel(...)
  api.at_most("dagl.ffi.kernel", "one table of options", 1, 1, ...)
  local spec = kernel_options:check((...), 1)
  local handle = api.at_user_line(core.ffi_kernel_new, spec)
  local node_spec = {shape = spec.shape, dtype = "float32"}
  local op = {name = spec.name, backward = spec.backward, handle = handle, inputs = spec.inputs,
              module = spec.module, backward_fn = spec.backward_fn} -- backward's, as for dagl.luaop
  return setmetatable(op, {
    __name = "dagl.ffi.Kernel",
    __call = function(self, ...)
      local tr = fn.tracer_of(...)
      if tr then
        local sym = fn.custom_node(tr, self, node_spec, ...) -- not a tail call: errors name the caller's line
        return sym
      end
      local n, args, shapes = select("#", ...), {...}, {}
      for i = 1, n do
        args[i] = as_tensor(args[i], i, self.name)
        shapes[i] = args[i].shape
      end
      local shape = spec.shape
      if type(shape) == "function" then shape = shape(table.unpack(shapes, 1, n)) end
      return core.ffi_kernel_call(handle, shape or shapes[1] or {}, table.unpack(args, 1, n))
    end,
  })
end

return M
