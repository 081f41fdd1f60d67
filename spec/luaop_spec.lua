-- Lua nodes (dagl.luaop) in graphs: results, the VM lock (sleep overlaps, spin serializes in
-- global mode, never two threads in the VM), per-worker mode, and errors raised inside nodes.
local dagl = require "dagl"

-- A graph of `branches` parallel Lua nodes on one input, summed.
local function parallel_nodes(op, branches)
  return dagl.fn(function(x)
    local acc
    for _ = 1, branches do
      local y = op(x)
      acc = acc and acc + y or y
    end
    return acc
  end)
end

describe("dagl.luaop", function()
  setup(function() dagl.set_threads(2) end)
  after_each(function() dagl.set_lock_mode("global") end)

  it("computes the same as calling forward eagerly", function()
    local double = dagl.luaop{name = "double", forward = function(t) return t * 2 end}
    local f = dagl.fn(function(x) return double(x:tanh()) + 1 end)
    local x = dagl.randn(4, 5)
    local want = (x:tanh() * 2 + 1):totable()
    assert.same(want, f(x):totable())
    assert.same(want, (double(x:tanh()) + 1):totable()) -- eager call
  end)

  it("takes a declared output shape and checks what forward returns", function()
    local rowsum = dagl.luaop{name = "rowsum", forward = function(t) return t:sum(2) end,
                              shape = function(s) return {s[1]} end}
    local f = dagl.fn(function(x) return rowsum(x) end)
    assert.same({6, 15}, f(dagl.tensor{{1, 2, 3}, {4, 5, 6}}):totable())
    local liar = dagl.luaop{name = "liar", forward = function(t) return t:sum(2) end}
    local g = dagl.fn(function(x) return liar(x) end)
    local ok, err = pcall(g, dagl.ones(2, 3))
    assert.is_false(ok)
    assert.matches("liar", err)
    assert.matches("returned float32 %[2%], declared float32 %[2, 3%]", err)
  end)

  it("lets sleeping nodes overlap: sleep releases the VM lock", function()
    _G.active, _G.max_active = 0, 0
    -- each node naps until the other is inside too (at most 2 s: a loaded machine may start the
    -- second worker late); without the lock released by sleep the other could never enter
    local nap = dagl.luaop{name = "nap", forward = function(t)
      active = active + 1
      if active > max_active then max_active = active end
      local t0 = dagl.wall_time()
      repeat dagl.sleep(0.01) until max_active >= 2 or dagl.wall_time() - t0 > 2
      active = active - 1
      return t
    end}
    local f = parallel_nodes(nap, 2)
    f(dagl.ones(3))
    assert.equal(2, max_active)
  end)

  it("serializes nodes that spin: the VM lock's holds never overlap", function()
    local busy = dagl.luaop{name = "busy", forward = function(t)
      dagl.spin(0.02) -- CPU-bound, holding the lock (handed over at switch intervals)
      return t
    end}
    local f = parallel_nodes(busy, 4)
    f(dagl.ones(3))
    local path = os.tmpname()
    local stats = dagl.trace({json = path}, function() for _ = 1, 3 do f(dagl.ones(3)) end end)
    -- a node waiting to get the lock back at a switch interval is not working: the nodes take
    -- turns, so their work is about the lock's hold time and the parallelism about 1
    assert.is_true(stats.parallelism < 1.3, "parallelism " .. stats.parallelism)
    assert.is_true(stats.work < stats.lock_hold * 1.3, ("work %g, lock held %g"):format(stats.work, stats.lock_hold))
    local fh = assert(io.open(path))
    local holds = {}
    for line in fh:lines() do
      if line:find('"cat":"lock"', 1, true) and line:find('"held by', 1, true) then
        local ts, dur = line:match('"ts":([%d.]+),"dur":([%d.]+)')
        holds[#holds + 1] = {tonumber(ts), tonumber(ts) + tonumber(dur)}
      end
    end
    fh:close()
    os.remove(path)
    assert.is_true(#holds >= 12, "expected a hold per node at least, got " .. #holds)
    table.sort(holds, function(a, b) return a[1] < b[1] end)
    for i = 2, #holds do
      assert.is_true(holds[i][1] >= holds[i - 1][2] - 0.002, -- printed to the ns
        ("holds %d and %d overlap: [%.3f, %.3f] and [%.3f, %.3f]"):format(i - 1, i, holds[i - 1][1],
          holds[i - 1][2], holds[i][1], holds[i][2]))
    end
  end)

  it("hands the VM lock over at the switch interval to a node waiting to get it back", function()
    -- one node computes in pure Lua for a long time; the other sleeps briefly (releasing the lock)
    -- and then must take it back: the count hook makes the first hand it over meanwhile
    _G.order = {}
    local long = dagl.luaop{name = "long", forward = function(t)
      local s = 0
      for i = 1, 30000000 do s = s + i % 3 end
      order[#order + 1] = "long"
      return t
    end}
    local short = dagl.luaop{name = "short", forward = function(t)
      require("dagl").sleep(0.005)
      order[#order + 1] = "short"
      return t
    end}
    dagl.set_switch_interval(0.002)
    local f = dagl.fn(function(x) return short(x) + long(x * 1) end)
    f(dagl.ones(2))
    dagl.set_switch_interval(0.005)
    assert.same({"short", "long"}, order)
  end)

  it("gives the same results in per-worker mode", function()
    local sq = dagl.luaop{name = "sq", forward = function(t) return t * t + 1 end}
    local f = parallel_nodes(sq, 4)
    local x = dagl.randn(8)
    local global = f(x):totable()
    dagl.set_lock_mode("per-worker")
    assert.equal("per-worker", dagl.get_lock_mode())
    local per_worker = f(x):totable()
    assert.same(global, per_worker)
  end)

  it("runs per-worker nodes in separate lua_States", function()
    local where = dagl.luaop{name = "where", forward = function(t)
      _G.mark = (_G.mark or 0) + 1 -- a global of whichever state runs the node
      return t
    end}
    dagl.set_lock_mode("per-worker")
    _G.mark = nil
    parallel_nodes(where, 2)(dagl.ones(2))
    assert.is_nil(_G.mark) -- the main state's globals were not touched
    dagl.set_lock_mode("global")
    parallel_nodes(where, 2)(dagl.ones(2))
    assert.equal(2, _G.mark)
  end)

  it("explains why a function with upvalues cannot run per worker", function()
    local k = 3
    local scale = dagl.luaop{name = "scale", forward = function(t) return t * k end}
    local f = dagl.fn(function(x) return scale(x) end)
    dagl.set_lock_mode("per-worker")
    local ok, err = pcall(f, dagl.ones(2))
    assert.is_false(ok)
    assert.matches("uses upvalues %(k%)", err)
    dagl.set_lock_mode("global")
    assert.same({3, 3}, f(dagl.ones(2)):totable())
  end)

  it("loads forward from module= and fn= in per-worker states, and says why when it cannot", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local function module(name, text)
      local f = assert(io.open(dir .. "/" .. name .. ".lua", "w"))
      f:write(text)
      f:close()
    end
    module("lop_good", "local k = 3\nreturn {triple = function(t) return t * k end}\n")
    module("lop_broken", "error('cannot load this module')\n")
    local saved = package.path
    package.path = dir .. "/?.lua;" .. saved
    local function op(mod, fn)
      local k = 3 -- an upvalue: only module= lets this run per worker
      return dagl.luaop{name = "tri", module = mod, fn = fn, forward = function(t) return t * k end}
    end
    local good, nofn, broken = op("lop_good", "triple"), op("lop_good", "nope"), op("lop_broken", "triple")
    package.path = saved
    dagl.set_lock_mode("per-worker")
    local x = dagl.randn(5)
    assert.same((x * 3 + x * 3):totable(), parallel_nodes(good, 2)(x):totable())
    local ok, err = pcall(parallel_nodes(nofn, 2), x)
    assert.is_false(ok)
    assert.matches("luaop 'tri': cannot load forward in a worker state: module 'lop_good' has no function 'nope'", err)
    ok, err = pcall(parallel_nodes(broken, 2), x)
    assert.is_false(ok)
    assert.matches("cannot load this module", err)
    assert.same((x * 6):totable(), parallel_nodes(good, 2)(x):totable()) -- the pool stays usable
    os.execute("rm -rf " .. dir)
  end)

  it("raises errors from inside a node with the node, layer and traceback; the pool stays usable", function()
    local boom = dagl.luaop{name = "boom", forward = function(t)
      if t:sum():item() > 100 then error("too big: " .. t:sum():item()) end
      return t
    end}
    local f = dagl.fn(function(x)
      return dagl.label(x, "exploder", function() return boom(x) end) + x:relu()
    end)
    pcall(f, dagl.full({4}, 50)) -- traces the graph
    collectgarbage()
    collectgarbage()
    local before = dagl.live_bytes()
    for _ = 1, 3 do
      local ok, err = pcall(f, dagl.full({4}, 50))
      assert.is_false(ok)
      assert.matches("node %%%d+ %(boom in layer exploder, inputs %[4%]%)", err)
      assert.matches("too big: 200", err)
      assert.matches("stack traceback", err)
      assert.matches("inputs %[4%]", err)
    end
    collectgarbage()
    collectgarbage()
    assert.equal(before, dagl.live_bytes()) -- nothing of the failed runs is left
    assert.same({2, 2, 2, 2}, f(dagl.ones(4)):totable())
  end)

  it("records Lua nodes and lock holds in a trace", function()
    local nap = dagl.luaop{name = "nap", forward = function(t) dagl.sleep(0.01) return t end}
    local f = parallel_nodes(nap, 2)
    dagl.trace_start()
    f(dagl.ones(2))
    local st = dagl.trace_stop()
    assert.equal(3, st.nodes) -- two Lua nodes and the add
    assert.is_true(st.lock_hold > 0)
    assert.matches("wall", st.summary)
  end)

  it("refuses to change threads or the lock mode during a run: the run and the process go on", function()
    -- the pool used to be freed under the run waiting on it (the process died or hung)
    local change -- what the node tries during the run, or nil
    local meddle = dagl.luaop{name = "meddle", forward = function(t)
      if change then change() end
      return t * 2
    end}
    local f = dagl.fn(function(x) return x:exp():tanh():exp() + meddle(x:tanh()) end)
    local x = dagl.full({100000}, 0.5)
    dagl.set_threads(2)
    local want = f(x):totable()
    local changes = {
      {function() dagl.set_threads(2) end, "set_threads: a graph run is in progress on this context; change threads between runs"},
      {function() dagl.set_threads{inter = 1} end, "set_threads: a graph run is in progress"},
      {function() dagl.set_threads{intra = 1} end, "set_threads: a graph run is in progress"},
      {function() dagl.set_lock_mode("per-worker") end, "set_lock_mode: a graph run is in progress on this context"},
    }
    for _, c in ipairs(changes) do
      change = c[1]
      dagl.trace_start()
      local ok, err = pcall(f, x)
      local st = dagl.trace_stop()
      assert.is_false(ok)
      assert.truthy(tostring(err):find(c[2], 1, true), err)
      assert.matches("luaop 'meddle'", err)
      assert.is_true(st.nodes >= 1)
      assert.same({2, 0}, {dagl.num_threads()})
      assert.equal("global", dagl.get_lock_mode())
    end
    change = nil
    assert.same(want, f(x):totable()) -- later runs work
    dagl.set_threads(3) -- and between runs the changes are made
    assert.same({3, 0}, {dagl.num_threads()})
    assert.same(want, f(x):totable())
    dagl.set_threads(2)
  end)
end)
