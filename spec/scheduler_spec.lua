-- The threaded scheduler from Lua: the same bits at every thread count, traces of runs (every
-- node once, dependencies respected), dagl.trace and the host's --trace.
local dagl = require "dagl"

-- Four branches of matmul chains summed: big enough that GEMMs are split across workers.
local function model()
  dagl.manual_seed(11)
  local ws = {}
  for b = 1, 4 do
    ws[b] = {}
    for l = 1, 3 do ws[b][l] = dagl.randn(192, 192) * 0.05 end
  end
  return dagl.fn(function(x)
    local acc
    for b = 1, 4 do
      local h = x
      for l = 1, 3 do h = h:matmul(ws[b][l]):tanh() end
      acc = acc and acc + h or h
    end
    return acc:sum(2), acc
  end)
end

local function bits(t)
  local f = t:flatten()
  local out = {}
  for i = 1, #f do out[i] = string.pack("f", f[i]) end
  return table.concat(out)
end

-- A function of (s, a) asserting they have the bits of the first pair it was given.
local function same_bits_as_first()
  local want_s, want_a
  return function(s, a)
    if not want_s then want_s, want_a = bits(s), bits(a)
    else
      assert.equal(want_s, bits(s))
      assert.equal(want_a, bits(a))
    end
  end
end

describe("the scheduler", function()
  after_each(function() dagl.set_threads{inter = 0, intra = 0} end)

  it("gives bitwise the same results at 1, 2, 3 and 4 threads, graph and eager", function()
    local x = dagl.randn(256, 192)
    local check = same_bits_as_first()
    for _, threads in ipairs {1, 2, 3, 4} do
      dagl.set_threads(threads)
      local f = model()
      check(f(x))
    end
  end)

  it("plans memory: in place along the branches, the same bits without the plan", function()
    local x = dagl.randn(256, 192)
    local f = model()
    local p = f:graph(x):plan()
    -- 4 branches x 3 (matmul, tanh), 3 adds, a sum; the last tanh of every branch and the adds
    -- are one elementwise program (fuse_ew.c): 22 nodes. The program and the sum are outputs,
    -- the other 20 results live in the arena; each of the 8 other tanhs writes over its matmul
    assert.equal(22, p.nodes)
    assert.equal(20, p.planned_nodes)
    assert.equal(8, p.inplace_nodes)
    local r = 256 * 192 * 4
    assert.equal(21 * r + 256 * 4, p.total_bytes)
    assert.equal(p.arena_bytes + r + 256 * 4, p.peak_bytes)
    -- per branch two slots: matmul 1 (tanh 1 over it), matmul 2 beside it (it reads tanh 1),
    -- matmul 3 in the first again (tanh 1's only reader ran before it); the branches may run at
    -- once, so they share nothing
    assert.equal(8 * r, p.arena_bytes)
    local check = same_bits_as_first()
    for _, threads in ipairs {1, 2} do
      dagl.set_threads(threads)
      for _, on in ipairs {false, true, true} do
        dagl.set_memory_plan(on)
        check(f(x))
      end
    end
  end)

  it("limits intra-op parallelism with set_threads{intra =}: the same bits, no kernel shares elsewhere", function()
    local a, b = dagl.randn(512, 256), dagl.randn(256, 256)
    local f = dagl.fn(function(x, y) return (x:matmul(y)):relu():matmul(y) end)
    dagl.set_threads{inter = 2}
    local want = f(a, b)
    local st = dagl.trace({}, function() for _ = 1, 5 do f(a, b) end end)
    dagl.set_threads{inter = 2, intra = 1}
    assert.same({2, 1}, {dagl.num_threads()})
    local got
    local st1 = dagl.trace({}, function() for _ = 1, 5 do got = f(a, b) end end)
    assert.equal(0, st1.shares) -- every kernel ran on its node's worker
    assert.equal(0, (got - want):abs():max():item())
    assert.equal(st.nodes, st1.nodes)
    assert.has_error(function() dagl.set_threads{intra = -1} end)
    assert.has_error(function() dagl.set_threads{intra = "2"} end, "dagl.set_threads: intra must be an integer in [0, 4096], got '2'")
  end)

  it("records every node once, after all of its sources", function()
    dagl.set_threads(2)
    local f = model()
    local x = dagl.randn(64, 192)
    f(x) -- traced already
    local stats = dagl.trace({}, function() f(x) end)
    -- 4 branches x 3 (matmul + tanh) + 3 adds + sum, the last tanhs and the adds as one
    -- elementwise program: 22 op nodes
    assert.equal(22, stats.nodes)
    assert.is_true(stats.work > 0 and stats.wall > 0)
    assert.is_true(stats.critical_path <= stats.work + 1e-9)
    assert.equal(4, stats.dag_width)
  end)

  it("fuses matmul -> bias add -> activation into one node: eager bits, fused names, g:plan()", function()
    dagl.manual_seed(5)
    local w1, b1, w2, b2 = dagl.randn(100, 64), dagl.randn(64), dagl.randn(64, 10), dagl.randn(10)
    local function net(x) return ((x:matmul(w1) + b1):relu():matmul(w2) + b2):softmax() end
    local x = dagl.randn(300, 100)
    local want = bits(net(x))
    for _, threads in ipairs {1, 2} do
      dagl.set_threads(threads)
      local f = dagl.fn(net)
      assert.equal(want, bits(f(x)))
      -- matmul+add+relu, matmul+add, softmax: 300x64 and 300x10 twice in float32
      local p = f:graph(x):plan()
      assert.equal(3, p.nodes)
      assert.equal((300 * 64 + 300 * 10 * 2) * 4, p.total_bytes)
      -- the arena: the fused relu result, then the second (12000 bytes in a 12032-byte slot, as
      -- slots are 64-byte aligned) beside it, since it is computed from it; the softmax output
      -- gets memory of its own
      assert.equal(300 * 64 * 4 + 12032, p.arena_bytes)
      assert.equal(300 * 64 * 4 + 12032 + 300 * 10 * 4, p.peak_bytes)
      assert.equal(2, p.planned_nodes)
      assert.equal(0, p.inplace_nodes)
      local dir = os.tmpname()
      local stats = dagl.trace({json = dir .. ".json"}, function() f(x) end)
      assert.equal(3, stats.nodes)
      local j = assert(io.open(dir .. ".json")):read("a")
      assert.matches("matmul%+add%+relu", j)
      os.remove(dir)
      os.remove(dir .. ".json")
    end
  end)

  it("writes trace JSON and an SVG timeline through dagl.trace", function()
    local dir = os.tmpname()
    os.remove(dir)
    local json, svg = dir .. ".json", dir .. ".svg"
    local f = model()
    local x = dagl.randn(32, 192)
    local stats, y = dagl.trace({json = json, svg = svg}, function() return f(x) end)
    assert.is_true(dagl.is_tensor(y))
    local j = assert(io.open(json)):read("a")
    local s = assert(io.open(svg)):read("a")
    assert.matches('"traceEvents"', j)
    assert.matches('"ph":%s*"X"', j)
    assert.matches("<svg", s)
    assert.matches("matmul", s)
    assert.matches("parallelism", stats.summary)
    os.remove(json)
    os.remove(svg)
  end)

  it("traces a whole script with dagl --trace", function()
    local bin = arg and arg[-1] or "build/dagl"
    local base = os.tmpname()
    local script = base .. ".lua"
    local out = io.open(script, "w")
    out:write([[
      local dagl = require "dagl"
      local w = dagl.randn(64, 64)
      local f = dagl.fn(function(x) return x:matmul(w):relu() + x:tanh() end)
      f(dagl.randn(8, 64))
    ]])
    out:close()
    local p = io.popen(bin .. " --trace " .. base .. ".json " .. script .. " 2>&1")
    local text = p:read("a")
    assert.is_true(p:close())
    assert.matches("2 nodes", text) -- the matmul, and relu + tanh + add as one elementwise program
    assert.matches("trace: " .. base:gsub("%p", "%%%0") .. "%.json", text)
    local j = assert(io.open(base .. ".json")):read("a")
    assert.matches("traceEvents", j)
    assert.is_not_nil(io.open(base .. ".svg"))
    os.remove(script); os.remove(base); os.remove(base .. ".json"); os.remove(base .. ".svg")
  end)
end)
