-- Lua nodes with a backward (dagl.luaop{backward=}) in both lock modes: dagl.grad and model:fit
-- give the same bits in global and per-worker mode; per-worker states load backward from its
-- bytecode or from module= and backward_fn=; a backward with upvalues is refused at trace time
-- with the fix; errors inside backward during threaded runs name the op and the shapes.
local dagl = require "dagl"
local nn = dagl.nn

-- y = s * x / (1 + |x|), s broadcast over the rows; self-contained forward and backward (no
-- upvalues), so per-worker states can copy them. backward counts its calls in a global of the
-- state that runs it.
local function softsign_spec(name)
  return {
    name = name,
    forward = function(x, s) return x / (x:abs() + 1) * s end,
    backward = function(g, x, s)
      _G.softsign_backward_calls = (_G.softsign_backward_calls or 0) + 1
      local d = x:abs() + 1
      return g * s / (d * d), (g * x / d):sum(1)
    end,
  }
end

-- Runs body in lock mode `mode` (back to global after, even when it raises).
local function in_mode(mode, body, ...)
  dagl.set_lock_mode(mode)
  local res = table.pack(pcall(body, ...))
  dagl.set_lock_mode("global")
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- Each tensor of a list as nested tables, for bitwise comparison with assert.same.
local function values(list)
  local out = {}
  for i, t in ipairs(list) do out[i] = t:totable() end
  return out
end

-- A directory on package.path holding the modules given as {name = source text}; returns a
-- function that removes it and restores package.path.
local function modules(files)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  for name, text in pairs(files) do
    local f = assert(io.open(dir .. "/" .. name .. ".lua", "w"))
    f:write(text)
    f:close()
  end
  local saved = package.path
  package.path = dir .. "/?.lua;" .. saved
  return function()
    package.path = saved
    os.execute("rm -rf " .. dir)
  end
end

describe("dagl.luaop backward", function()
  setup(function() dagl.set_threads(2) end)
  after_each(function() dagl.set_lock_mode("global") end)

  it("gives dagl.grad the same bits in global and per-worker mode, run in the workers' own states", function()
    local softsign = dagl.luaop(softsign_spec("softsign"))
    local vg = dagl.grad(function(x, s) return (softsign(x:tanh(), s) * x):sum() end)
    dagl.manual_seed(11)
    local x, s = dagl.randn(6, 4), dagl.randn(4)
    _G.softsign_backward_calls = nil
    local global = values {vg(x, s)}
    assert.equal(2, _G.softsign_backward_calls) -- one node per input, in the main state
    _G.softsign_backward_calls = nil
    local per_worker = values {in_mode("per-worker", vg, x, s)}
    assert.is_nil(_G.softsign_backward_calls) -- ran in the workers' states, not the main one
    assert.same(global, per_worker)
    -- and they are the gradients: the same formulas composed of dagl ops, traced
    local want = values {dagl.grad(function(xx, ss)
      local t = xx:tanh()
      return (t / (t:abs() + 1) * ss * xx):sum()
    end)(x, s)}
    for i = 1, 3 do assert_close(per_worker[i], want[i], 1e-5) end
  end)

  it("trains a model with a luaop layer to the same weights in global and per-worker mode", function()
    -- the example's Softsign layer: a dagl.luaop with a hand-written backward, self-contained
    local Softsign = dofile("examples/custom_layer.lua").Softsign
    local function train(mode)
      return in_mode(mode, function()
        dagl.manual_seed(7)
        math.randomseed(7)
        local x = dagl.randn(64, 4)
        local y = (x:tanh() * dagl.tensor{1, -2, 0.5, 1.5}):sum(2, true)
        local model = nn.Sequential{nn.Dense(8), Softsign(), nn.Dense(1)}
        model:compile{optimizer = nn.Adam{lr = 0.02}, loss = "mse"}
        local h = model:fit(x, y, {epochs = 3, batch_size = 16, verbose = false})
        return h.loss, values(model:weights())
      end)
    end
    local loss_g, w_g = train("global")
    local loss_p, w_p = train("per-worker")
    assert.same(loss_g, loss_p)
    assert.same(w_g, w_p)
    assert.is_true(loss_p[3] < loss_p[1], ("loss %g -> %g"):format(loss_p[1], loss_p[3]))
  end)

  it("loads forward and backward from module= with fn= and backward_fn= (or the defaults)", function()
    local cleanup = modules {
      lop_cube = [[
local three = 3 -- upvalues are fine inside a module
return {
  cube = function(t) return t * t * t end,
  cube_grad = function(g, t) return g * t * t * three end,
  forward = function(t) return t * t end,
  backward = function(g, t) return g * t * 2 end,
}]],
      lop_nograd = "return {forward = function(t) return t * 2 end}\n",
    }
    local k = 3 -- the functions given here capture it: only module= lets them run per worker
    local named = dagl.luaop{name = "cube", module = "lop_cube", fn = "cube", backward_fn = "cube_grad",
                             forward = function(t) return t * t * t end,
                             backward = function(g, t) return g * t * t * k end}
    local defaults = dagl.luaop{name = "square", module = "lop_cube",
                                forward = function(t) return t * t * (k - 2) end,
                                backward = function(g, t) return g * t * (k - 1) end}
    local missing = dagl.luaop{name = "twice", module = "lop_nograd",
                               forward = function(t) return t * 2 end,
                               backward = function(g) return g * (k - 1) end}
    local x = dagl.tensor{-1, 0.5, 2}
    local vg = dagl.grad(function(t) return (named(t) + defaults(t)):sum() end)
    local global = values {vg(x)}
    assert.same(values {x * x * 3 + x * 2}, {global[2]})
    assert.same(global, values {in_mode("per-worker", vg, x)})
    local ok, err = pcall(in_mode, "per-worker", dagl.grad(function(t) return missing(t):sum() end), x)
    assert.is_false(ok)
    assert.matches("luaop 'twice' %(backward, gradient of input 1%): cannot load backward in a worker state: "
                   .. "module 'lop_nograd' has no function 'backward'", err)
    cleanup()
  end)

  it("refuses a backward with upvalues in per-worker mode when tracing, naming the op, the upvalue and the fix", function()
    local scale = 2
    local sq = dagl.luaop{name = "square_up", forward = function(t) return t * t end,
                          backward = function(g, t) return g * t * scale end}
    local op = "luaop 'square_up' %(backward, gradient of input 1%): "
    local why = "per%-worker mode cannot copy backward: it uses upvalues %(scale%); "
      .. "make it self%-contained %(require what it needs inside%) or give module= and backward_fn="
    local x = dagl.tensor{1, 2, 3}
    local loss = function(t) return sq(t):sum() end
    -- traced in per-worker mode: the trace fails, at the line of the call
    local ok, err = pcall(in_mode, "per-worker", dagl.grad(loss), x)
    assert.is_false(ok)
    assert.matches("luaop_backward_spec.lua:%d+: " .. op .. why, err)
    -- traced in global mode, then run per worker: the run fails with the same words
    local vg = dagl.grad(loss)
    assert.same({14, {2, 4, 6}}, values {vg(x)})
    ok, err = pcall(in_mode, "per-worker", vg, x)
    assert.is_false(ok)
    assert.matches(op .. "cannot load backward in a worker state: " .. why, err)
    assert.same({14, {2, 4, 6}}, values {vg(x)}) -- global mode still runs it
    -- a model's fit in per-worker mode stops at the trace of its step
    local Sq = nn.layer_class("square_up_layer")
    function Sq.new(opts) local self = setmetatable({}, Sq) self:init(opts) return self end
    function Sq:call(h) return sq(h) end
    local model = nn.Sequential{nn.Dense(3), Sq(), nn.Dense(1)}
    model:compile{optimizer = nn.SGD{lr = 0.01}, loss = "mse"}
    ok, err = pcall(in_mode, "per-worker", model.fit, model, dagl.randn(8, 2), dagl.randn(8, 1),
                    {epochs = 1, verbose = false})
    assert.is_false(ok)
    assert.matches(op .. why, err)
  end)

  for _, mode in ipairs {"global", "per-worker"} do
    it("raises an error inside backward during a threaded " .. mode .. " run with the op and the shapes; the runtime stays usable", function()
      local spec = softsign_spec("fragile")
      spec.backward = function(g, x, s)
        if x:max():item() > 100 then error("backward cannot take " .. x:max():item()) end
        local d = x:abs() + 1
        return g * s / (d * d), (g * x / d):sum(1)
      end
      local fragile = dagl.luaop(spec)
      local softsign = dagl.luaop(softsign_spec("other"))
      -- two luaops and C work side by side, so the failing node runs beside others
      local vg = dagl.grad(function(x, s) return (fragile(x, s) + softsign(x:exp(), s) + x:matmul(x:transpose()):sum()):sum() end)
      local s = dagl.ones(3)
      local good, bad = dagl.full({4, 3}, 0.5), dagl.full({4, 3}, 200)
      local want = values {vg(good, s)}
      in_mode(mode, function()
        for _ = 1, 3 do
          local ok, err = pcall(vg, bad, s)
          assert.is_false(ok)
          assert.matches("node %%%d+ %(fragile_grad%d, inputs %[4, 3%], %[4, 3%], %[3%], %[4, 3%]%)", err)
          assert.matches("luaop 'fragile' %(backward, gradient of input %d%) raised an error: ", err)
          assert.matches("backward cannot take 200", err)
          assert.matches("stack traceback", err)
        end
        assert.same(want, values {vg(good, s)}) -- the same graph runs again
      end)
      assert.same(want, values {vg(good, s)})
    end)
  end

  it("names a result backward does not give and rejects misspelled options", function()
    local mul = dagl.luaop{name = "mul", forward = function(a, b) return a * b end,
                           backward = function(g, a, b) return g * b end} -- no gradient for b
    local ok, err = pcall(dagl.grad(function(a, b) return mul(a, b):sum() end), dagl.ones(2), dagl.ones(2))
    assert.is_false(ok)
    assert.matches("luaop 'mul' %(backward, gradient of input 2%): backward returned a nil, expected a tensor", err)
    ok, err = pcall(dagl.luaop, {forward = function(t) return t end, backward_func = function(g) return g end})
    assert.is_false(ok)
    assert.matches("luaop_backward_spec.lua:%d+: dagl.luaop: unknown option 'backward_func' %(did you mean 'backward_fn'%?", err)
    ok, err = pcall(dagl.luaop, {name = "half", forward = function(t) return t end, backward = "g"})
    assert.is_false(ok)
    assert.matches("dagl.luaop: backward must be a function, got 'g'", err, 1, true)
  end)
end)
