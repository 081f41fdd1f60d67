-- api_options_spec.lua -- the options of dagl's public functions outside dagl.nn (issue 13,
-- item 1): dagl.trace, trace_stop, set_threads, grad, luaop, fn, ffi, read_csv, dagl.data. A
-- misspelled key raises at the call naming the function as users call it and the nearest key;
-- wrong types and out-of-range values raise at the call; extra positional arguments raise; the
-- other spellings (sep, drop_remainder, argnums = 2, batches(x, {...})) work.
local dagl = require "dagl"

local SPEC = "api_options_spec.lua:%d+: "

-- f() must raise a message holding each of the strings (plainly) and, when `at` is true, raised
-- at this file's line (the user's line, not inside dagl).
local function raises(f, at, ...)
  local err = assert_raises(f, ...)
  if at then assert.matches(SPEC, err) end
  return err
end

local tmpfiles = {}
local function csv(text)
  local p = os.tmpname()
  tmpfiles[#tmpfiles + 1] = p
  local h = assert(io.open(p, "w"))
  h:write(text)
  h:close()
  return p
end
teardown(function() for _, p in ipairs(tmpfiles) do os.remove(p) end end)

describe("dagl.trace", function()
  it("raises on a misspelled key at the call, before the body runs, naming the nearest", function()
    local ran = false
    raises(function() dagl.trace {jsn = "t.json"}(function() ran = true end) end, true,
      "dagl.trace: unknown option 'jsn' (did you mean 'json'? options: json, print, svg)")
    raises(function() dagl.trace({svgg = "t.svg"}, function() ran = true end) end, true, "did you mean 'svg'?")
    assert.is_false(ran)
    assert.is_false(dagl.tracing())
  end)

  it("raises on wrongly typed values and extra arguments", function()
    raises(function() dagl.trace({json = 3}, function() end) end, true, "dagl.trace: json must be a string, got 3")
    raises(function() dagl.trace({print = "yes"}, function() end) end, true, "dagl.trace: print must be true or false, got 'yes'")
    raises(function() dagl.trace({}, 3) end, true, "dagl.trace: body must be a function, got 3")
    raises(function() dagl.trace({}, function() end, 1) end, true, "dagl.trace: takes (options, body) or (options)(body); got 3 arguments")
    raises(function() dagl.trace({})(function() end, 2) end, true, "dagl.trace(options): takes one function (the body); got 2 arguments")
    assert.is_false(dagl.tracing())
  end)

  it("writes the files asked for; the body alone also works", function()
    local f = dagl.fn(function(x) return x:exp() end)
    local json = csv("")
    local stats, y = dagl.trace({json = json}, function() return f(dagl.ones(2)) end)
    assert.equal(1, stats.nodes)
    assert.equal(2, y:numel())
    assert.truthy(read_file(json):find("traceEvents", 1, true))
    local st2, z = dagl.trace(function() return 7 end)
    assert.equal(7, z)
    assert.equal(0, st2.nodes)
  end)

  it("trace_stop checks its options too (and stays stoppable)", function()
    dagl.trace_start()
    raises(function() dagl.trace_stop {jsn = "x"} end, true, "dagl.trace_stop: unknown option 'jsn' (did you mean 'json'?")
    raises(function() dagl.trace_stop {svg = true} end, true, "dagl.trace_stop: svg must be a string, got true")
    assert.is_true(dagl.tracing())
    dagl.trace_stop()
    assert.is_false(dagl.tracing())
  end)
end)

describe("dagl.set_threads", function()
  after_each(function() dagl.set_threads {inter = 0, intra = 0} end)

  it("raises on inter_op (naming inter) and changes nothing", function()
    dagl.set_threads {inter = 2, intra = 0}
    raises(function() dagl.set_threads {inter_op = 1} end, true,
      "dagl.set_threads: unknown option 'inter_op' (did you mean 'inter'? options: inter, intra)")
    raises(function() dagl.set_threads {intra_op = 1} end, true, "did you mean 'intra'?")
    assert.same({2, 0}, {dagl.num_threads()})
  end)

  it("raises on wrong types, out-of-range values and extra arguments", function()
    raises(function() dagl.set_threads(-1) end, true, "dagl.set_threads: inter must be an integer in [0, 4096], got -1")
    raises(function() dagl.set_threads {intra = 5000} end, true, "intra must be an integer in [0, 4096], got 5000")
    raises(function() dagl.set_threads("2") end, true, "inter must be an integer in [0, 4096], got '2'")
    raises(function() dagl.set_threads(2, 3) end, true, "dagl.set_threads: takes at most 1 positional argument (inter)")
    raises(function() dagl.set_threads(2, {inter = 3}) end, true, "inter is given twice")
  end)

  it("takes a number, the table, or both forms at once", function()
    dagl.set_threads(3)
    assert.same({3, 0}, {dagl.num_threads()})
    dagl.set_threads(2, {intra = 1})
    assert.same({2, 1}, {dagl.num_threads()})
    dagl.set_threads {intra = 0}
    assert.same({2, 0}, {dagl.num_threads()})
  end)
end)

describe("dagl.set_check_numerics and dagl.set_memory_plan", function()
  it("take true or false only", function()
    raises(function() dagl.set_check_numerics("off") end, true, "dagl.set_check_numerics: on must be true or false, got 'off'")
    raises(function() dagl.set_memory_plan(1) end, true, "dagl.set_memory_plan: on must be true or false, got 1")
    raises(function() dagl.set_memory_plan(true, false) end, true, "dagl.set_memory_plan: takes one argument (true or false); got 2")
    assert.is_false(dagl.set_check_numerics(false))
    assert.is_true(dagl.set_memory_plan(true))
  end)
end)

describe("dagl.grad", function()
  local function f(a, b) return (a * b):sum() end

  it("raises on argnum, naming argnums", function()
    raises(function() dagl.grad(f, {argnum = {2}}) end, true,
      "dagl.grad: unknown option 'argnum' (did you mean 'argnums'? options: argnums, wrt)")
  end)

  it("takes argnums as a list or one number (JAX's forms)", function()
    local a, b = dagl.tensor {1, 2}, dagl.tensor {3, 4}
    local v, db = dagl.grad(f, {argnums = 2})(a, b)
    assert.equal(11, v:item())
    assert.same({1, 2}, db:totable())
    local res = {dagl.grad(f, {argnums = {2}})(a, b)}
    assert.equal(2, #res)
    assert.same({1, 2}, res[2]:totable())
  end)

  it("raises on wrong types at the call, and on an argument number past the arguments when called", function()
    raises(function() dagl.grad(f, {argnums = {0}}) end, true, "dagl.grad: argnums must be an argument number (1-based) or a list of them")
    raises(function() dagl.grad(f, {wrt = "w"}) end, true, "dagl.grad: wrt must be a tensor or a list of tensors")
    raises(function() dagl.grad(f, {wrt = {dagl.ones(1), 3}}) end, true, "wrt must be a tensor or a list of tensors")
    raises(function() dagl.grad("f") end, true, "dagl.grad: f must be a function, got 'f'")
    raises(function() dagl.grad(f, {}, 3) end, true, "dagl.grad: takes (f, {options}); got 3 arguments")
    local g = dagl.grad(f, {argnums = {3}})
    raises(function() g(dagl.ones(2), dagl.ones(2)) end, true,
      "dagl.grad: argnums lists argument 3, but f was called with 2 arguments")
  end)

  it("takes one wrt tensor as a list of one", function()
    local w = dagl.tensor {2, 5}
    local v, dw = dagl.grad(function(x) return (x * w):sum() end, {argnums = {}, wrt = w})(dagl.tensor {1, 1})
    assert.equal(7, v:item())
    assert.same({1, 1}, dw:totable())
  end)
end)

describe("dagl.luaop and dagl.fn", function()
  local id = function(t) return t end

  it("luaop: one declaration checks keys and types (dagl.luaop_new too)", function()
    raises(function() dagl.luaop {forwrd = id} end, true, "dagl.luaop: unknown option 'forwrd' (did you mean 'forward'?")
    raises(function() dagl.luaop {name = "x"} end, true, "dagl.luaop: forward is required")
    raises(function() dagl.luaop {forward = id, shape = "3"} end, true, "dagl.luaop: shape must be a list of sizes")
    raises(function() dagl.luaop {forward = id, dtype = "float16"} end, true, "dagl.luaop: dtype must be one of 'float32', 'float64', 'int64'")
    raises(function() dagl.luaop {forward = id, name = 3} end, true, "dagl.luaop: name must be a string, got 3")
    raises(function() dagl.luaop({forward = id}, {}) end, true, "dagl.luaop: takes one table of options; got 2 arguments")
    raises(function() dagl.luaop_new {forward = id, modul = "m"} end, true, "dagl.luaop: unknown option 'modul' (did you mean 'module'?")
    assert.equal("userdata", type(dagl.luaop_new {forward = id}))
    local op = dagl.luaop {forward = function(t) return t:sum() end, shape = {}}
    assert.equal(6, dagl.fn(function(x) return op(x) end)(dagl.tensor {1, 2, 3}):item())
  end)

  it("fn: takes one function and nothing else", function()
    raises(function() dagl.fn(id, {jit_compile = true}) end, true, "dagl.fn: takes one function (it has no options); got 2 arguments")
    raises(function() dagl.fn(3) end, true, "dagl.fn: expected a function, got 3")
  end)
end)

describe("dagl.ffi", function()
  it("kernel: misspelled keys, wrong types and ranges raise at the call", function()
    local lib = dagl.ffi.load()
    local base = {lib = lib, name = "strlen", inputs = 1}
    local function with(t)
      local s = {}
      for k, v in pairs(base) do s[k] = v end
      for k, v in pairs(t) do s[k] = v end
      return s
    end
    raises(function() dagl.ffi.kernel(with {splt = true}) end, true, "dagl.ffi.kernel: unknown option 'splt' (did you mean 'split'?")
    raises(function() dagl.ffi.kernel(with {grain = 0}) end, true, "dagl.ffi.kernel: grain must be a positive integer, got 0")
    raises(function() dagl.ffi.kernel(with {split = 1}) end, true, "dagl.ffi.kernel: split must be true or false, got 1")
    raises(function() dagl.ffi.kernel(with {inputs = 9}) end, true, "inputs must be an integer in [1, 8], got 9")
    raises(function() dagl.ffi.kernel(with {}, {}) end, true, "dagl.ffi.kernel: takes one table of options; got 2 arguments")
    assert.equal("dagl.ffi.Kernel", getmetatable(dagl.ffi.kernel(with {split = true, grain = 8})).__name)
  end)

  it("load and lib:func take no options", function()
    raises(function() dagl.ffi.load("libm.so.6", {global = true}) end, true,
      "dagl.ffi.load: takes one path (or none: the program itself); got 2 arguments")
    local c = dagl.ffi.load()
    raises(function() c:func("strlen", "int64(const char *)", {}) end, false, "lib:func: takes (name, signature); got 3 arguments")
    assert.equal(2, c:func("strlen", "int64(const char *)")("ab"))
  end)
end)

describe("CSV readers", function()
  it("read_csv takes pandas' sep as delimiter", function()
    local p = csv("a;b\n1;2\n3;4\n")
    local t, names = dagl.read_csv(p, {sep = ";", header = true})
    assert_equal_values(t, {{1, 2}, {3, 4}})
    assert.same({"a", "b"}, names)
    local u = dagl.data.read_csv(p, {sep = ";", header = true})
    assert_equal_values(u, {{1, 2}, {3, 4}})
  end)

  it("read_csv raises on misspelled keys, wrong types, both spellings and extra arguments", function()
    local p = csv("1,2\n")
    raises(function() dagl.read_csv(p, {delimeter = ";"}) end, true,
      "dagl.read_csv: unknown option 'delimeter' (did you mean 'delimiter'? options: delimiter, header)")
    raises(function() dagl.data.read_csv(p, {heder = true}) end, true, "dagl.data.read_csv: unknown option 'heder' (did you mean 'header'?")
    raises(function() dagl.read_csv(p, {header = "yes"}) end, true, "dagl.read_csv: header must be true or false, got 'yes'")
    raises(function() dagl.read_csv(p, {sep = ";;"}) end, true, "dagl.read_csv: delimiter must be one character")
    raises(function() dagl.read_csv(p, {sep = ";", delimiter = ";"}) end, true, "dagl.read_csv: delimiter is given twice")
    raises(function() dagl.read_csv(p, {}, 1) end, true, "dagl.read_csv: takes (path, {options}); got 3 arguments")
    raises(function() dagl.read_csv(3) end, true, "dagl.read_csv: path must be a string, got 3")
    raises(function() dagl.read_csv("/nonexistent-dir/x.csv") end, true, "cannot open") -- the C reader's errors: at the call too
  end)

  it("read_csv_dataset raises on label_col, naming label_column, and on bad columns", function()
    local p = csv("a,b\n0.5,1\n1.5,0\n")
    raises(function() dagl.data.read_csv_dataset(p, {header = true, label_col = "a"}) end, true,
      "dagl.data.read_csv_dataset: unknown option 'label_col' (did you mean 'label_column'? options: delimiter, header, label_column)")
    raises(function() dagl.data.read_csv_dataset(p, {header = true, label_column = 0}) end, true,
      "label_column must be a column number (1-based; negative from the end) or, with a header, a column name, got 0")
    raises(function() dagl.data.read_csv_dataset(p, {header = true, label_column = 1.5}) end, true, "got 1.5")
    local x, y, names = dagl.data.read_csv_dataset(p, {header = true, label_column = "b"})
    assert_equal_values(x, {{0.5}, {1.5}})
    assert.same({1, 0}, y:totable())
    assert.same({"a"}, names)
  end)
end)

describe("dagl.data.batches", function()
  local x = dagl.arange(10):reshape(10, 1)

  local function sizes(...)
    local out = {}
    for xb in dagl.data.batches(...) do out[#out + 1] = xb.shape[1] end
    return out
  end

  it("raises on batchsize, naming batch_size", function()
    raises(function() dagl.data.batches(x, nil, {batchsize = 2}) end, true,
      "dagl.data.batches: unknown option 'batchsize' (did you mean 'batch_size'? options: batch_size, drop_last, prefetch, rank, seed, shuffle, world_size)")
  end)

  it("raises on wrong types, out-of-range values and extra arguments", function()
    raises(function() dagl.data.batches(x, nil, {batch_size = 0}) end, true, "dagl.data.batches: batch_size must be a positive integer, got 0")
    raises(function() dagl.data.batches(x, nil, {shuffle = "no"}) end, true, "dagl.data.batches: shuffle must be true or false, got 'no'")
    raises(function() dagl.data.batches(x, nil, {seed = 1.5}) end, true, "dagl.data.batches: seed must be an integer, got 1.5")
    raises(function() dagl.data.batches(x, nil, {}, 4) end, true, "dagl.data.batches: takes (x, y, {options}); got 4 arguments")
  end)

  it("takes batches(x, {options}) and TF's drop_remainder", function()
    assert.same({2, 2, 2, 2, 2}, sizes(x, {batch_size = 2}))
    assert.same({3, 3, 3}, sizes(x, nil, {batch_size = 3, drop_remainder = true}))
    assert.same({3, 3, 3, 1}, sizes(x, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {batch_size = 3}))
  end)
end)

describe("the file readers and writers", function()
  it("take no options: a table given after their arguments raises instead of being ignored", function()
    local p = os.tmpname()
    raises(function() dagl.save_npy(p, dagl.ones(2), {overwrite = true}) end, true,
      "dagl.save_npy: takes (path, tensor); got 3 arguments")
    raises(function() dagl.save_safetensors(p, {w = dagl.ones(2)}, {}, {dtype = "float64"}) end, true,
      "dagl.save_safetensors: takes (path, {name = tensor}, metadata?); got 4 arguments")
    dagl.save_npy(p, dagl.ones(2))
    raises(function() dagl.load_npy(p, {mmap = true}) end, true, "dagl.load_npy: takes (path); got 2 arguments")
    assert.same({1, 1}, dagl.load_npy(p):totable())
    dagl.save_safetensors(p, {w = dagl.ones(2)})
    raises(function() dagl.load_safetensors(p, "cpu") end, true, "dagl.load_safetensors: takes (path); got 2 arguments")
    raises(function() dagl.load_npz(p, true) end, true, "dagl.load_npz: takes (path); got 2 arguments")
    os.remove(p)
  end)
end)
