-- Random graphs mixing built-in ops and Lua nodes (dagl.luaop), run at random thread counts in
-- both lock modes, with and without the memory plan: every result equals the same program run
-- eagerly, and memory comes back.
local dagl = require "dagl"

-- Lua nodes without upvalues, so per-worker states can run them too.
local luaops = {
  dagl.luaop{name = "soft", forward = function(t) return t:tanh() * 0.5 + 0.25 end},
  dagl.luaop{name = "mix", forward = function(a, b) return a * 0.75 - b:sigmoid() end},
  dagl.luaop{name = "rowmean", forward = function(t) return t - t:mean(-1, true) end},
}

-- A random program: steps {kind, a, b} over earlier values (1..ninputs are the inputs); runs
-- the same way on real tensors (eager) and on symbols (traced).
local function random_program(nin)
  local steps, n = {}, nin
  for _ = 1, math.random(3, 30) do
    n = n + 1
    local a, b = math.random(n - 1), math.random(math.max(1, n - 4), n - 1) -- b mostly recent
    steps[#steps + 1] = {math.random(8), a, b}
  end
  local outs = {}
  for i = 1, math.random(1, 3) do outs[i] = math.random(nin + 1, n) end
  return steps, outs
end

local function run_program(steps, outs, ...)
  local v = {...}
  for _, s in ipairs(steps) do
    local k, a, b = s[1], v[s[2]], v[s[3]]
    local r
    if k == 1 then r = a + b
    elseif k == 2 then r = (a * b):tanh()
    elseif k == 3 then r = a:matmul(b):tanh()
    elseif k == 4 then r = a:relu() - b * 0.5
    elseif k == 5 then r = luaops[1](a)
    elseif k == 6 then r = luaops[2](a, b)
    elseif k == 7 then r = luaops[3](b)
    else r = dagl.maximum(a, b:sigmoid()) end
    v[#v + 1] = r
  end
  local res = {}
  for i, o in ipairs(outs) do res[i] = v[o] end
  return table.unpack(res)
end

-- Runs `trials` random programs, each 4 times at random thread counts in `modes` (picked at
-- random), the first run without the memory plan, comparing with the eager run.
local function random_runs(trials, modes)
  for trial = 1, trials do
    local nin = math.random(1, 3)
    local steps, outs = random_program(nin)
    local xs = {}
    for i = 1, nin do xs[i] = dagl.randn(6, 6) end
    local want = {run_program(steps, outs, table.unpack(xs))}
    local f = dagl.fn(function(...) return run_program(steps, outs, ...) end)
    for run = 1, 4 do
      dagl.set_threads(math.random(1, 4))
      dagl.set_lock_mode(modes[math.random(#modes)])
      dagl.set_memory_plan(run > 1)
      local got = {f(table.unpack(xs))}
      assert.equal(#want, #got)
      for i = 1, #want do
        assert.same(want[i]:totable(), got[i]:totable(),
          ("trial %d, output %d, %d threads, %s lock, plan %s"):format(trial, i, dagl.num_threads(),
            dagl.get_lock_mode(), tostring(run > 1)))
      end
    end
  end
  dagl.set_lock_mode("global")
  dagl.set_memory_plan(true)
end

local function live()
  collectgarbage()
  collectgarbage()
  return dagl.live_bytes()
end

describe("random graphs with Lua nodes", function()
  local threads0
  setup(function() threads0 = dagl.num_threads() math.randomseed(20261125) end)
  teardown(function() dagl.set_threads(threads0) dagl.set_lock_mode("global") end)

  it("equal eager results at random thread counts in global lock mode, leaking nothing", function()
    local before = live()
    random_runs(100, {"global"})
    assert.equal(before, live())
  end)

  it("equal eager results at random thread counts in both lock modes, memory bounded", function()
    -- per-worker lua_States collect their own garbage, in batches of 256 KB of tensor debt
    -- (src/lua/l_tensor.c): at most that much per worker (4) may wait there
    local before = live()
    random_runs(100, {"global", "per-worker"})
    local mid = live()
    random_runs(200, {"global", "per-worker"})
    local after = live()
    assert.is_true(mid - before < 4 * 256 * 1024, ("%d bytes more after 100 runs"):format(mid - before))
    assert.is_true(after - before < 4 * 256 * 1024, ("%d bytes more after 300 runs"):format(after - before))
  end)
end)
