-- timing.lua -- what the micro-benchmark scripts share: the median of repeated timings of a loop.
-- Load it with dofile from the script's own dir (bench/ is not on package.path).
local T = {}

--- The median of a list of numbers (sorts the list).
function T.median(xs)
  table.sort(xs)
  local m = #xs // 2
  return #xs % 2 == 1 and xs[m + 1] or (xs[m] + xs[m + 1]) / 2
end

--- Runs body(iters) reps times after a warm-up of iters // 10, timed with clock() (seconds);
-- returns the median and the min ns per iteration.
function T.bench(body, iters, reps, clock)
  body(iters // 10)
  local per = {}
  for r = 1, reps do
    local t0 = clock()
    body(iters)
    per[r] = (clock() - t0) / iters * 1e9
  end
  local med = T.median(per)
  return med, per[1]
end

return T
