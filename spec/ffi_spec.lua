-- dagl.ffi: C functions declared by signature (libm, the program, the example library of
-- examples/ffi_layer, whose path ctest passes in DAGL_FFI_EXAMPLE_LIB), every error, and kernels
-- as ops: eager, in traced graphs (same bits at 1 and 2 threads, no VM lock), split over workers.
local dagl = require "dagl"

local example_path = os.getenv("DAGL_FFI_EXAMPLE_LIB") or "build/examples/ffi_layer/libscaled_softsign.so"

local function bits(t)
  local out = {}
  for i, v in ipairs(t:flatten():totable()) do out[i] = string.pack("f", v) end
  return table.concat(out)
end

-- The scaled softsign in dagl ops (the C kernel's formula).
local function reference(x, s) return x / (x:abs() + 1) * s end

describe("dagl.ffi functions", function()
  local libm, ex
  setup(function()
    libm = dagl.ffi.load("libm.so.6")
    ex = dagl.ffi.load(example_path)
  end)

  it("calls libm's cos and ldexp (double and int32 arguments)", function()
    local cos = libm:func("cos", "double(double)")
    local ldexp = libm:func("ldexp", "double(double, int32)")
    for _, v in ipairs {0, 0.5, 1, -2.25, 10} do assert.equal(math.cos(v), cos(v)) end
    assert.equal(12, ldexp(1.5, 3))
    assert.equal(0.1875, ldexp(1.5, -3))
    local cosf = libm:func("cosf", "float ( float )")
    assert.equal(string.unpack("f", string.pack("f", math.cos(1))), cosf(1))
  end)

  it("calls the program's own symbols (load with no path): strings in and out", function()
    local c = dagl.ffi.load()
    local strlen = c:func("strlen", "int64(const char *)")
    assert.equal(5, strlen("hello"))
    assert.equal(0, strlen(""))
    local getenv = c:func("getenv", "string(string)")
    assert.equal(os.getenv("HOME"), getenv("HOME"))
    assert.is_nil(getenv("DAGL_NO_SUCH_VARIABLE_SET"))
    local malloc, free = c:func("malloc", "pointer(int64)"), c:func("free", "void(ptr)")
    local p = malloc(16)
    assert.equal("userdata", type(p))
    assert.is_nil(free(p))
  end)

  it("passes tensors as data pointers, zero-copy, and int32/int64 scalars", function()
    local fill = ex:func("fill_ramp", "void(float*, int64, float, float)")
    local t = dagl.zeros(5)
    fill(t, 5, 1, 0.5)
    assert.same({1, 1.5, 2, 2.5, 3}, t:totable())
    local row = dagl.zeros(3, 4)[2] -- a contiguous view: its own data pointer
    fill(row, 4, 7, 1)
    assert.same({7, 8, 9, 10}, row:totable())
    local sum = ex:func("sum_i64", "int64(const int64_t *, int64)")
    assert.equal(3 * 2 ^ 40 + 6, sum(dagl.tensor({2 ^ 40 + 1, 2 ^ 40 + 2, 2 ^ 40 + 3}, "int64"), 3))
    local count = ex:func("count_char", "int32(const char*, int32)")
    assert.equal(3, count("banana", string.byte("a")))
    assert.equal(0, count(nil, 97))
    local one = ex:func("scaled_softsign_1", "double(double, double)")
    assert.equal(1.5, one(3, 2))
  end)

  it("names the path and dlerror's text when a library cannot be loaded", function()
    local err = assert_raises(function() dagl.ffi.load("/no/such/libdagl_nothing.so") end,
      "ffi.load: cannot load '/no/such/libdagl_nothing.so'", "cannot open shared object file")
    assert.matches("No such file", err)
  end)

  it("names the symbol and the library when a symbol is missing", function()
    assert_raises(function() libm:func("no_such_fn", "double(double)") end,
      "no symbol 'no_such_fn' in libm.so.6", "undefined symbol: no_such_fn")
  end)

  it("names the signature and its bad part", function()
    local cases = {
      {"double(dbl)", "unknown type 'dbl' (argument 1)"},
      {"double(double, int65)", "unknown type 'int65' (argument 2)"},
      {"quad(double)", "unknown type 'quad' (return type)"},
      {"double", "expected 'return_type(argument types)'"},
      {"double(double", "expected 'return_type(argument types)'"},
      {"double(double) x", "unexpected ' x' after ')'"},
      {"(double)", "missing type (return type)"},
      {"double(double,)", "missing type (argument 2)"},
      {"double(double, void)", "void is not an argument type (argument 2)"},
    }
    for _, c in ipairs(cases) do
      assert_raises(function() libm:func("cos", c[1]) end, "bad signature '" .. c[1] .. "' for 'cos'", c[2])
    end
    local many = "void(" .. string.rep("int32, ", 16) .. "int32)"
    assert_raises(function() libm:func("cos", many) end, "more than 16 arguments")
    assert.equal(1, libm:func("cos", "double(double)")(0)) -- and "(void)" means none:
    assert.is_number(dagl.ffi.load():func("rand", "int32(void)")())
  end)

  it("checks the argument count and every argument's type", function()
    local ldexp = libm:func("ldexp", "double(double, int32)")
    assert_raises(function() ldexp(1) end, "'ldexp' takes 2 arguments, got 1")
    assert_raises(function() ldexp(1, 2, 3) end, "'ldexp' takes 2 arguments, got 3")
    assert_raises(function() ldexp("1", 2) end, "bad argument #1 to 'ldexp' (double expected, got string)")
    assert_raises(function() ldexp(1, 2.5) end, "bad argument #2 to 'ldexp' (int32 expected, got a number with no integer value)")
    assert_raises(function() ldexp(1, 2 ^ 40) end, "bad argument #2 to 'ldexp' (int32 expected, got an integer out of range)")
    local sum = ex:func("sum_i64", "int64(int64*, int64)")
    assert_raises(function() sum(dagl.tensor({1}, "int64"), "3") end, "bad argument #2 to 'sum_i64' (int64 expected, got string)")
    assert_raises(function() sum(dagl.tensor{1, 2}, 2) end, "bad argument #1 to 'sum_i64' (int64* expected, got float32 tensor)")
    assert_raises(function() sum({}, 2) end, "bad argument #1 to 'sum_i64' (int64* expected, got table)")
    local fill = ex:func("fill_ramp", "void(float*, int64, float, float)")
    assert_raises(function() fill(dagl.zeros(3, 2):t(), 6, 0, 1) end,
      "bad argument #1 to 'fill_ramp' (float* expected, got a non-contiguous tensor)")
    local count = ex:func("count_char", "int32(string, int32)")
    assert_raises(function() count(42, 1) end, "bad argument #1 to 'count_char' (string expected, got number)")
  end)

  it("keeps a library loaded while functions made from it live; a closed handle refuses new ones", function()
    local lib = dagl.ffi.load(example_path)
    local one = lib:func("scaled_softsign_1", "double(double, double)")
    lib:close()
    assert_raises(function() lib:func("scaled_softsign_1", "double(double, double)") end, "closed library")
    collectgarbage()
    assert.equal(1.5, one(3, 2)) -- still callable: the function holds the library
    do
      local scoped <close> = dagl.ffi.load(example_path)
      assert.matches("Library%(.*scaled_softsign", tostring(scoped))
    end
  end)
end)

describe("dagl.ffi kernels", function()
  local ex, softsign
  setup(function()
    ex = dagl.ffi.load(example_path)
    softsign = dagl.ffi.kernel{lib = ex, name = "scaled_softsign", inputs = 2, split = true,
      backward = function(g, x, s)
        local d = x:abs() + 1
        return g * s / (d * d), (g * x / d):sum():reshape(1)
      end}
  end)
  after_each(function() dagl.set_threads(0) end)

  it("computes the C formula eagerly; inputs are made contiguous float32 first", function()
    local x, s = dagl.randn(7, 9) * 4, dagl.tensor{0.75}
    assert_close(softsign(x, s), reference(x, s):totable(), 1e-6)
    local xt = x:t() -- non-contiguous
    assert_close(softsign(xt, s), reference(xt, s):totable(), 1e-6)
    local x64 = dagl.randn({5}, "float64")
    local y = softsign(x64, 2)
    assert.equal("float32", y:dtype())
    assert_close(y, reference(x64, 2):totable(), 1e-6)
  end)

  it("runs in a traced graph next to ordinary ops: same bits at 1 and 2 threads, and as eager", function()
    local w = dagl.randn(64, 64) * 0.1
    local s = dagl.tensor{1.25}
    local x = dagl.randn(2048, 64) -- 131072 elements: 8 shares of the default grain
    local function body(a) return softsign(a:matmul(w), s):tanh() + a end
    local eager = body(x)
    local want
    for _, threads in ipairs {1, 2, 1} do
      dagl.set_threads(threads)
      local got = bits(dagl.fn(body)(x))
      want = want or got
      assert.equal(want, got)
    end
    assert.equal(bits(eager), want)
    assert_close(eager, (reference(x:matmul(w), s):tanh() + x):totable(), 1e-5)
  end)

  it("splits its call over the workers when split is set", function()
    local idx = dagl.ffi.kernel{lib = ex, name = "share_index", inputs = 1, split = true, grain = 1000}
    local y = idx(dagl.zeros(4500)):totable() -- 4 shares of 1125
    assert.same({4, 4, 1004, 2004, 3004, 3004}, {y[1], y[1125], y[1126], y[2251], y[3376], y[4500]})
    local once = dagl.ffi.kernel{lib = ex, name = "share_index", inputs = 1}
    local f = dagl.fn(function(a) return once(a) end)
    assert.same({1, 1}, {f(dagl.zeros(4500)):min():item(), f(dagl.zeros(4500)):max():item()})
  end)

  it("runs its graph nodes without the VM lock (a Lua node in the same place takes it)", function()
    dagl.set_threads(2)
    local s = dagl.tensor{0.5}
    local x = dagl.randn(256, 256)
    local function branches(op)
      return dagl.fn(function(a) return op(a, s) + op(a * 2, s) + op(a:relu(), s) end)
    end
    local c_graph = branches(softsign)
    c_graph(x)
    local stats = dagl.trace({}, function() c_graph(x) end)
    assert.equal(6, stats.nodes) -- mul, relu, 3 kernels, the 2 adds as one elementwise program
    assert.equal(0, stats.lock_hold)
    local lua_op = dagl.luaop{name = "lua_softsign", forward = function(a, b) return reference(a, b) end}
    local lua_graph = branches(lua_op)
    lua_graph(x)
    local lstats = dagl.trace({}, function() lua_graph(x) end)
    assert.is_true(lstats.lock_hold > 0)
    assert.equal(bits(c_graph(x)), bits(c_graph(x)))
    assert_close(c_graph(x), lua_graph(x):totable(), 1e-6)
  end)

  it("takes an output shape function", function()
    local first_row = dagl.ffi.kernel{lib = ex, name = "share_index", inputs = 1,
                                      shape = function(sh) return {sh[2]} end}
    assert.same({3}, first_row(dagl.zeros(2, 3)).shape)
    local f = dagl.fn(function(a) return first_row(a) + 1 end)
    assert.same({2, 2, 2}, f(dagl.zeros(2, 3)):totable())
  end)

  it("differentiates through backward (float32 central differences)", function()
    local s = dagl.tensor{0.8}
    local x = dagl.randn(3, 4)
    local function loss(a, b) return (softsign(a, b) * softsign(a, b)):sum() end
    local res = {dagl.grad(loss)(x, s)}
    local function numeric(t, k) return numeric_at(function() return loss(x, s) end, t, k, 1e-2) end
    local gx, gs = res[2]:view(-1), res[3]
    for k = 1, 12 do assert.is_true(math.abs(gx[k] - numeric(x, k)) < 2e-3, "d/dx " .. k) end
    assert.is_true(math.abs(gs[1] - numeric(s, 1)) < 2e-3 * (1 + math.abs(gs[1])), "d/ds")
  end)

  it("reports bad kernels and bad calls clearly", function()
    assert_raises(function() dagl.ffi.kernel{lib = ex, name = "nope", inputs = 1} end, "no symbol 'nope'")
    assert_raises(function() dagl.ffi.kernel{lib = ex, name = "share_index", inputs = 0} end,
      "dagl.ffi.kernel: inputs must be an integer in [1, 8], got 0")
    assert_raises(function() dagl.ffi.kernel{lib = ex, inputs = 1} end, "dagl.ffi.kernel: name is required")
    assert_raises(function() dagl.ffi.kernel{lib = "x", name = "share_index", inputs = 1} end, "dagl.ffi.kernel: lib must be a library from dagl.ffi.load, got 'x'")
    assert_raises(function() softsign(dagl.ones(3)) end, "ffi kernel 'scaled_softsign': takes 2 inputs, got 1")
    assert_raises(function() softsign(dagl.ones(3), "s") end, "bad argument #2 to 'scaled_softsign' (tensor expected, got string)")
    local f = dagl.fn(function(a) return softsign(a) end)
    assert_raises(function() f(dagl.ones(3)) end, "ffi kernel 'scaled_softsign': takes 2 inputs, got 1")
  end)
end)
