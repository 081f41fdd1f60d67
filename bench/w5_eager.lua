-- w5_eager.lua -- workload W5 of DESIGN.md: an eager add of two 16-float tensors, called from the
-- script in a loop. Prints the median time per op over several repetitions.
--   build/dagl bench/w5_eager.lua [iterations=2000000] [repetitions=7]
-- Output: human-readable lines, plus one "RESULT <name> <median ns/op>" line per variant for
-- bench/w5. Times are CPU time of the process (os.clock); the add never uses worker threads.
local dagl = require "dagl"

local n = math.tointeger(tonumber(arg and arg[1]) or 2000000)
local reps = math.tointeger(tonumber(arg and arg[2]) or 7)

local a, b = dagl.ones(16), dagl.ones(16)
assert((a + b):sum():item() == 32, "a + b is wrong")

local timing = dofile((arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "bench") .. "/timing.lua")

-- Runs body(n) reps times after a warm-up; returns the median and the min ns per op.
local function bench(body) return timing.bench(body, n, reps, os.clock) end

local variants = {
  { "dagl_add_op", "c = a + b", function(k) for _ = 1, k do local c = a + b end end },
  { "dagl_add_fn", "c = dagl.add(a, b)", function(k) local add = dagl.add for _ = 1, k do local c = add(a, b) end end },
  { "lua_loop", "empty loop (overhead)", function(k) for _ = 1, k do local c = a end end },
}

print(("W5 eager tiny add, dagl %s, %d iterations x %d repetitions"):format(dagl._VERSION, n, reps))
for _, v in ipairs(variants) do
  local med, min = bench(v[3])
  print(("  %-24s median %8.1f ns/op   min %8.1f ns/op"):format(v[2], med, min))
  print(("RESULT %s %.1f"):format(v[1], med))
end
