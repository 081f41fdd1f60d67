-- forward_timing.lua -- the article's first example: a small Keras-like model with two parallel
-- Dense branches on one input, merged. Times its forward pass eagerly and as a traced graph
-- (dagl.fn), at 1 thread and at N, and prints the table.
--   build/dagl examples/forward_timing.lua [batch=512]
local dagl = require "dagl"

local batch = math.tointeger(tonumber(arg[1])) or 512
dagl.manual_seed(42)

-- Dense(units, activation) as a tiny Lua class: weights made once, call composes dagl ops.
local function Dense(n_in, n_out, act)
  local w = dagl.randn(n_in, n_out) * math.sqrt(2 / n_in) -- He initialization
  local b = dagl.zeros(n_out)
  return function(x)
    local y = x:matmul(w) + b
    return act and y[act](y) or y
  end
end

local left = {Dense(784, 512, "relu"), Dense(512, 256, "relu")}
local right = {Dense(784, 512, "tanh"), Dense(512, 256, "tanh")}
local head = Dense(256, 10)

local function forward(x)
  local a, b = x, x
  for _, layer in ipairs(left) do a = layer(a) end
  for _, layer in ipairs(right) do b = layer(b) end
  return head(a + b) -- merge (Add), then the output layer
end

local compiled = dagl.fn(forward)
local x = dagl.randn(batch, 784)

local function timeit(f)
  local t_warm = dagl.wall_time() + 0.3 -- page faults, clock ramp-up, OpenBLAS's idle threads
  repeat f(x) until dagl.wall_time() > t_warm
  local n, t0 = 0, dagl.wall_time()
  repeat f(x) n = n + 1 until dagl.wall_time() - t0 > 0.5
  return (dagl.wall_time() - t0) / n
end

local maxdiff = (compiled(x) - forward(x)):abs():max():item()
print(("model: 784 -> [512 relu -> 256 relu] + [512 tanh -> 256 tanh] -> 10, batch %d"):format(batch))
print(("graph vs eager max difference: %g"):format(maxdiff))
print()
print(("%-22s %12s %12s"):format("", "1 thread", dagl.num_threads() .. " threads"))
local rows = {}
for _, mode in ipairs {"eager", "dagl.fn (graph)"} do
  local f = mode == "eager" and forward or compiled
  dagl.set_threads(1)
  local t1 = timeit(f)
  dagl.set_threads(0)
  local tn = timeit(f)
  print(("%-22s %9.2f ms %9.2f ms   (%.2fx)"):format(mode, t1 * 1e3, tn * 1e3, t1 / tn))
end
print()
print("Eager ops run one after another (each big matmul split across the workers); the graph also")
print("runs the two branches at the same time, so both threads stay busy through the small ops too.")
