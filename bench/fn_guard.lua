-- fn_guard.lua -- what dagl.fn's capture guards cost: the check of a function with 10 upvalues
-- (dagl.capture_changed, alone), and a whole tiny dagl.fn call (16 floats) without captures and
-- with 10 captured values. Prints the median over several repetitions.
--   build/dagl bench/fn_guard.lua [iterations=200000] [repetitions=7]
-- Output: human-readable lines, plus one "RESULT <name> <median ns/op>" line per variant. Times
-- are wall time (graph runs may wake worker threads). Without dagl.capture_snapshot the check is
-- skipped; for "before" figures of the calls, run it with DAGL_LUA_PATH set to a copy of lua/
-- whose dagl/fn.lua has no guard.
local dagl = require "dagl"

local n = math.tointeger(tonumber(arg and arg[1]) or 200000)
local reps = math.tointeger(tonumber(arg and arg[2]) or 7)

local timing = dofile((arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "bench") .. "/timing.lua")

-- Runs body(iters) reps times after a warm-up; returns the median and the min ns per op.
local function bench(body, iters) return timing.bench(body, iters, reps, dagl.wall_time) end

-- Ten captures: five tensors and five numbers.
local a, b, c, d, e = dagl.ones(16), dagl.full({16}, 2), dagl.full({16}, 3), dagl.ones(16), dagl.zeros(16)
local k1, k2, k3, k4, k5 = 1, 2, 3, 4, 5
local function ten(x) return (x + a) * b - c + d * e + k1 + k2 + k3 + k4 + k5 end
local plain = dagl.fn(function(x) return x + 1 end)
local captured = dagl.fn(ten)
local x = dagl.ones(16)
assert(plain(x):sum():item() == 32 and captured(x):sum():item() == 16 * 16, "wrong results")
assert(captured.traces == 1, "the captures were retraced")

local variants = {
  {"fn_plain_call", "dagl.fn call, no captures", function(k) for _ = 1, k do plain(x) end end},
  {"fn_captured_call", "dagl.fn call, 10 captures", function(k) for _ = 1, k do captured(x) end end},
}
if dagl.capture_snapshot then
  local snap, count = dagl.capture_snapshot(ten)
  assert(count == 10, "expected 10 guarded upvalues, got " .. count)
  local changed = dagl.capture_changed
  table.insert(variants, 1, {"guard_check_10", "guard check, 10 upvalues",
    function(k) for _ = 1, k do changed(snap) end end, n * 10})
  table.insert(variants, 2, {"lua_loop", "empty loop (overhead)",
    function(k) for _ = 1, k do local _ = snap end end, n * 10})
end

print(("dagl.fn capture guards, dagl %s, %d iterations x %d repetitions"):format(dagl._VERSION, n, reps))
for _, v in ipairs(variants) do
  local med, min = bench(v[3], v[4] or n)
  print(("  %-28s median %8.1f ns/op   min %8.1f ns/op"):format(v[2], med, min))
  print(("RESULT %s %.1f"):format(v[1], med))
end
