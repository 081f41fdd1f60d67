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

local M = {}

M.load = core.ffi_load

-- A real tensor for an eager kernel argument (numbers become 0-d tensors).
local function as_tensor(x, i, name)
  if core.is_tensor(x) then return x end
  if type(x) == "number" then return core.tensor(x) end
  error(("bad argument #%d to '%s' (tensor expected, got %s)"):format(i, name, type(x)), 3)
end

--- dagl.ffi.kernel{lib=, name=, inputs=n, shape=function(in_shapes...) -> shape | table,
-- split=bool, grain=elements per share, backward=function(g, x1, ..., out), module=,
-- backward_fn=} -> a callable op.
function M.kernel(spec)
  assert(type(spec) == "table", "dagl.ffi.kernel: expected a table of options")
  local handle = core.ffi_kernel_new(spec)
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
