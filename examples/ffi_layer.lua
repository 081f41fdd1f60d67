-- ffi_layer.lua -- a layer written in C, loaded with dagl.ffi: the fused "scaled softsign"
-- out = x / (1 + |x|) * s of examples/ffi_layer/scaled_softsign.c, used eagerly and as a layer
-- of a model between two Dense layers (in the dagl.fn graph of model:predict, where it runs on
-- the workers without the Lua VM lock), checked against the same formula in dagl ops.
--   build/dagl examples/ffi_layer.lua [path/to/libscaled_softsign.so]
-- (the library is built by CMake into <build>/examples/ffi_layer/; DAGL_FFI_EXAMPLE_LIB works too)
local dagl = require "dagl"
local nn = dagl.nn

local path = arg[1] or os.getenv("DAGL_FFI_EXAMPLE_LIB") or "build/examples/ffi_layer/libscaled_softsign.so"
local lib = dagl.ffi.load(path)

-- The kernel: two inputs (x and the one-element scale), output shaped like x, split over the
-- workers. backward (optional) gives the gradients of x and s for dagl.grad.
local scaled_softsign = dagl.ffi.kernel{
  lib = lib, name = "scaled_softsign", inputs = 2, split = true,
  shape = function(x_shape, s_shape)
    assert(#s_shape == 1 and s_shape[1] == 1, "scaled_softsign: the scale must have shape {1}")
    return x_shape
  end,
  backward = function(g, x, s, _)
    local d = x:abs() + 1
    return g * s / (d * d), (g * x / d):sum():reshape(1)
  end,
}

-- The same formula in dagl ops, for the checks.
local function reference(x, s) return x / (x:abs() + 1) * s end

-- 1. Eagerly, on real tensors; and one element through a plain declared function.
local x, s = dagl.randn(4, 5) * 3, dagl.tensor{0.5}
local err = (scaled_softsign(x, s) - reference(x, s)):abs():max():item()
print(("eager: max |C - dagl ops| = %.3g"):format(err))
assert(err < 1e-6)
local one = lib:func("scaled_softsign_1", "double(double, double)")
print(("scaled_softsign_1(3, 2) = %g (want %g)"):format(one(3, 2), 3 / 4 * 2))
assert(math.abs(one(3, 2) - 1.5) < 1e-6)

-- 2. As a layer: nn.layer_class gives build-once weights (here the scale) and labelled nodes.
local ScaledSoftsign = nn.layer_class("scaled_softsign")
function ScaledSoftsign.new(scale, opts)
  local self = setmetatable({}, ScaledSoftsign)
  self:init(opts)
  self.initial = scale
  return self
end
function ScaledSoftsign:build() self.scale = self:add_weight("scale", dagl.tensor{self.initial}) end
function ScaledSoftsign:call(h) return scaled_softsign(h, self.scale) end

dagl.manual_seed(7)
local d1, act, d2 = nn.Dense(32), ScaledSoftsign(1.5), nn.Dense(3)
local model = nn.Sequential{d1, act, d2}
local batch = dagl.randn(64, 8)
local got = model:predict(batch) -- traced by dagl.fn: Dense, the C node, Dense
local want = reference(batch:matmul(d1.kernel) + d1.bias, act.scale):matmul(d2.kernel) + d2.bias
err = (got - want):abs():max():item()
print(("in a graph: max |model - dagl ops| = %.3g"):format(err))
assert(err < 1e-5)

-- 3. The C node took no VM lock while the graph ran.
local stats = dagl.trace({}, function() model:predict(batch) end)
print(("traced run: %d nodes, VM lock held %.3g s"):format(stats.nodes, stats.lock_hold))
assert(stats.lock_hold == 0)
