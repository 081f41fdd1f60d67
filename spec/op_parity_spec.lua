-- op_parity_spec.lua -- every public op of the op list (dagl.ops(), generated from DAGL_OP_LIST in
-- dagl.h) run eagerly and traced (inside dagl.fn) with the same arguments, valid and invalid:
-- results must be bitwise equal (dtype, shape and every element) and errors must have the same
-- message. Cases come by op class, so a new op of an existing class is covered without a word
-- here; an op of a new class, or a hand-bound one without cases, fails the coverage test.
local dagl = require "dagl"

-- Inputs: made fresh for every call so in-place work in one path cannot leak into the other.
local inputs = {
  x = function() return dagl.tensor { { 1, -2, 3 }, { -4, 5.5, 0 } } end,              -- [2, 3] f32
  y = function() return dagl.tensor { { 0.5, 2, -1 }, { 3, 0.25, 7 } } end,            -- [2, 3] f32
  row = function() return dagl.tensor { 10, 20, 30 } end,                               -- [3] f32
  col = function() return dagl.tensor { { 2 }, { 3 } } end,                             -- [2, 1] f32
  bad = function() return dagl.ones(4) end,                                              -- [4]
  d = function() return dagl.tensor({ { 1, -2, 3 }, { -4, 5.5, 0 } }, "float64") end,  -- [2, 3] f64
  i = function() return dagl.tensor({ { 1, -2, 3 }, { -4, 5, 0 } }, "int64") end,      -- [2, 3] i64
  pos = function() return dagl.tensor { { 1, 2, 3 }, { 4, 5, 6 } } end,                 -- [2, 3] f32 > 0
  nc = function() return dagl.tensor { { 1, 4 }, { 2, 5 }, { 3, 6 } }:t() end,          -- [2, 3], strided
  w = function() return dagl.tensor { { 1, 0 }, { -1, 2 }, { 0.5, 3 } } end,            -- [3, 2]
  cube = function() return dagl.arange(24):reshape(2, 3, 4) end,                        -- [2, 3, 4]
  img = function() return dagl.arange(2 * 4 * 4 * 3):reshape(2, 4, 4, 3) / 10 end,     -- NHWC
  ker = function() return dagl.arange(2 * 2 * 3 * 5):reshape(2, 2, 3, 5) / 100 end,    -- HWIO
  ids = function() return dagl.tensor({ { 0, 2 }, { 1, 1 } }, "int64") end,
  ids1 = function() return dagl.tensor({ 2, 3 }, "int64") end,                         -- 1-based
  cond = function() return dagl.tensor { { 1, 0, 1 }, { 0, 0, 1 } } end,
}

-- A case: a label, the names of its tensor inputs and a function of them. Numbers, tables and
-- strings are captured in the function, so both paths get exactly the same arguments.
local function case(label, names, f) return { label = label, names = names, f = f } end

-- Cases per op class, given the op's Lua name (a method of that name and dagl.<name>).
local by_class = {}

function by_class.UNARY(op)
  return {
    case("f32", { "x" }, function(x) return x[op](x) end),
    case("module function", { "pos" }, function(x) return dagl[op](x) end),
    case("f64", { "d" }, function(x) return x[op](x) end),
    case("int64", { "i" }, function(x) return x[op](x) end),
    case("strided", { "nc" }, function(x) return x[op](x) end),
    case("a string", { "x" }, function(x) return dagl[op]("x") end),
    case("nothing", {}, function() return dagl[op]() end),
  }
end

function by_class.BINARY(op)
  return {
    case("same shape", { "x", "y" }, function(a, b) return a[op](a, b) end),
    case("operator-free module form", { "pos", "y" }, function(a, b) return dagl[op](a, b) end),
    case("broadcast row", { "x", "row" }, function(a, b) return dagl[op](a, b) end),
    case("broadcast column", { "col", "y" }, function(a, b) return dagl[op](a, b) end),
    case("number second", { "pos" }, function(a) return dagl[op](a, 2) end),
    case("number first", { "pos" }, function(a) return dagl[op](2, a) end),
    case("fractional number", { "i" }, function(a) return dagl[op](a, 0.5) end),
    case("int64 and float32", { "i", "y" }, function(a, b) return dagl[op](a, b) end),
    case("float64 and float32", { "d", "y" }, function(a, b) return dagl[op](a, b) end),
    case("strided", { "nc", "x" }, function(a, b) return dagl[op](a, b) end),
    case("shapes that do not broadcast", { "x", "bad" }, function(a, b) return dagl[op](a, b) end),
    case("a string", { "x" }, function(a) return dagl[op](a, "2") end),
    case("two numbers", {}, function() return dagl[op](1, 2) end),
  }
end
by_class.COMPARE = by_class.BINARY

function by_class.CLAMP(op)
  return {
    case("both bounds", { "x" }, function(x) return x[op](x, -1, 2) end),
    case("low bound only", { "x" }, function(x) return x[op](x, 0) end),
    case("high bound only", { "i" }, function(x) return x[op](x, nil, 1.5) end),
    case("bad bound", { "x" }, function(x) return x[op](x, "low") end),
  }
end

function by_class.WHERE(op)
  return {
    case("tensors", { "cond", "x", "y" }, function(c, a, b) return dagl[op](c, a, b) end),
    case("numbers", { "cond" }, function(c) return dagl[op](c, 1, -1) end),
    case("number and tensor", { "cond", "row" }, function(c, b) return dagl[op](c, 0, b) end),
    case("shapes that do not broadcast", { "cond", "bad" }, function(c, b) return dagl[op](c, b, 0) end),
    case("no condition", { "x" }, function(a) return dagl[op](nil, a, a) end),
  }
end

function by_class.REDUCE(op)
  return {
    case("all", { "x" }, function(x) return x[op](x) end),
    case("dim 2", { "x" }, function(x) return x[op](x, 2) end),
    case("dim -1 keepdim", { "cube" }, function(x) return x[op](x, -1, true) end),
    case("dim 2.0", { "d" }, function(x) return dagl[op](x, 2.0) end),
    case("int64", { "i" }, function(x) return x[op](x, 1) end),
    case("dims {1, 3}", { "cube" }, function(x) return x[op](x, { 1, 3 }) end),
    case("correction 0", { "x" }, function(x) return x[op](x, 2, false, 0) end),
    case("strided", { "nc" }, function(x) return x[op](x, 1) end),
    case("dim 5", { "x" }, function(x) return x[op](x, 5) end),
    case("dim 0", { "x" }, function(x) return x[op](x, 0) end),
    case("repeated dim", { "cube" }, function(x) return x[op](x, { 2, -2 }) end),
    case("too many dims", { "x" }, function(x) return x[op](x, { 1, 2, 1 }) end),
    case("a string dim", { "x" }, function(x) return x[op](x, "rows") end),
  }
end

function by_class.MATMUL(op)
  return {
    case("2-d", { "x", "w" }, function(a, b) return a[op](a, b) end),
    case("batched", { "cube", "w" }, function(a, b) return dagl[op](a:transpose(2, 3), b) end),
    case("vector", { "x", "row" }, function(a, v) return dagl[op](a, v:reshape(3)) end),
    case("mixed dtypes", { "d", "w" }, function(a, b) return dagl[op](a, b) end),
    case("not aligned", { "x", "y" }, function(a, b) return dagl[op](a, b) end),
    case("a number", { "x" }, function(a) return dagl[op](a, 2) end),
  }
end

function by_class.SOFTMAX(op)
  return {
    case("last dim", { "x" }, function(x) return x[op](x) end),
    case("dim 1", { "x" }, function(x) return x[op](x, 1) end),
    case("int64", { "i" }, function(x) return dagl[op](x, -1) end),
    case("dim 3", { "x" }, function(x) return x[op](x, 3) end),
  }
end

function by_class.ALONG(op)
  local flag = op == "cumsum" and "reverse" or "descending"
  return {
    case("dim 2", { "x" }, function(x) return x[op](x, 2) end),
    case("dim 1, " .. flag, { "x" }, function(x) return dagl[op](x, 1, { [flag] = true }) end),
    case("int64, dim -1", { "i" }, function(x) return x[op](x, -1, true) end),
    case("strided", { "nc" }, function(x) return x[op](x, 2) end),
    case("float64 ties", { "d" }, function(x) return x[op](x:abs():floor_divide(2), 2) end),
    case("dim 3", { "x" }, function(x) return x[op](x, 3) end),
    case("misspelled option", { "x" }, function(x) return x[op](x, 2, { revers = true, decending = true }) end),
    case("flag not a boolean", { "x" }, function(x) return x[op](x, 2, 1) end),
  }
end

function by_class.WINDOW(op)
  if op == "conv2d" then
    return {
      case("valid", { "img", "ker" }, function(x, k) return x:conv2d(k) end),
      case("same, strides 2", { "img", "ker" }, function(x, k) return dagl.conv2d(x, k, { padding = "same", strides = 2 }) end),
      case("channels differ", { "img", "ker" }, function(x, k) return x:conv2d(k:narrow(3, 1, 2)) end),
      case("bad padding", { "img", "ker" }, function(x, k) return x:conv2d(k, { padding = "full" }) end),
      case("3-d input", { "cube", "ker" }, function(x, k) return x:conv2d(k) end),
      case("misspelled option", { "img", "ker" }, function(x, k) return x:conv2d(k, { stride = 2 }) end),
    }
  end
  return {
    case("default size 2", { "img" }, function(x) return x[op](x) end),
    case("size as a number", { "img" }, function(x) return x[op](x, 3) end),
    case("options", { "img" }, function(x) return dagl[op](x, { pool_size = 3, strides = 1, padding = "same" }) end),
    case("zero size", { "img" }, function(x) return x[op](x, 0) end),
    case("2-d input", { "x" }, function(x) return x[op](x) end),
    case("misspelled option", { "img" }, function(x) return x[op](x, { pool_size = 2, paddin = "same" }) end),
  }
end

-- Hand-bound ops (lua = HAND): their Lua entry points, by op name.
local by_op = {
  reshape = {
    case("reshape", { "x" }, function(x) return x:reshape(3, 2) end),
    case("reshape -1", { "cube" }, function(x) return x:reshape(-1, 4) end),
    case("view of a table", { "x" }, function(x) return x:view { 6 } end),
    case("flatten", { "nc" }, function(x) return x:flatten() end),
    case("squeeze all", { "col" }, function(x) return x:squeeze() end),
    case("squeeze 2", { "col" }, function(x) return x:squeeze(2) end),
    case("squeeze 4", { "x" }, function(x) return x:squeeze(4) end),
    case("unsqueeze 1", { "x" }, function(x) return x:unsqueeze(1) end),
    case("unsqueeze -1", { "x" }, function(x) return x:unsqueeze(-1) end),
    case("unsqueeze 5", { "x" }, function(x) return x:unsqueeze(5) end),
    case("reshape to a wrong size", { "x" }, function(x) return x:reshape(4, 2) end),
    case("select", { "cube" }, function(x) return x:select(2, -1) end),
    case("select out of range", { "x" }, function(x) return x:select(1, 3) end),
    case("index a row", { "x" }, function(x) return x[2] end),
    case("index 0", { "x" }, function(x) return x[0] end),
  },
  permute = {
    case("permute", { "cube" }, function(x) return x:permute(3, 1, 2) end),
    case("permute a table", { "cube" }, function(x) return x:permute { -1, 2, 1 } end),
    case("transpose", { "x" }, function(x) return x:transpose() end),
    case("t", { "nc" }, function(x) return x:t() end),
    case("transpose 1 3", { "cube" }, function(x) return x:transpose(1, 3) end),
    case("permute repeated", { "cube" }, function(x) return x:permute(1, 1, 2) end),
    case("permute too few", { "cube" }, function(x) return x:permute(1, 2) end),
    case("transpose 5", { "x" }, function(x) return x:transpose(5, 1) end),
  },
  expand = {
    case("expand", { "col" }, function(x) return x:expand(2, 3) end),
    case("expand -1", { "row" }, function(x) return x:expand(4, -1) end),
    case("expand a wrong dim", { "x" }, function(x) return x:expand(2, 4) end),
  },
  slice = {
    case("slice", { "cube" }, function(x) return x:slice(3, 2, -1) end),
    case("slice with step", { "cube" }, function(x) return x:slice(3, 1, -1, 2) end),
    case("slice past the end", { "x" }, function(x) return x:slice(2, 2, 10) end),
    case("slice bad step", { "x" }, function(x) return x:slice(2, 1, 3, 0) end),
    case("narrow", { "x" }, function(x) return x:narrow(2, 2, 2) end),
    case("narrow out of range", { "x" }, function(x) return x:narrow(2, 3, 2) end),
    case("slice dim 3", { "x" }, function(x) return x:slice(3, 1, 1) end),
  },
  cast = {
    case("to float64", { "x" }, function(x) return x:to("float64") end),
    case("long", { "x" }, function(x) return x:long() end),
    case("float of int64", { "i" }, function(x) return x:float() end),
    case("double", { "nc" }, function(x) return x:double() end),
    case("unknown dtype", { "x" }, function(x) return x:to("float16") end),
  },
  concat = {
    case("dim 1", { "x", "y" }, function(a, b) return dagl.concat({ a, b }) end),
    case("dim -1, three", { "x", "y", "col" }, function(a, b, c) return dagl.concat({ a, b, c }, -1) end),
    case("shapes differ", { "x", "col" }, function(a, b) return dagl.concat({ a, b }, 1) end),
    case("dim 3", { "x", "y" }, function(a, b) return dagl.concat({ a, b }, 3) end),
  },
  gather = {
    case("embedding", { "x", "ids" }, function(t, ids) return dagl.embedding(t, ids) end),
    case("index_select dim 1", { "cube", "ids1" }, function(t, ids) return t:index_select(1, ids - 1) end),
    case("index_select dim 3", { "cube", "ids1" }, function(t, ids) return t:index_select(3, ids) end),
    case("index_select 2-d ids on dim 2", { "cube", "ids" }, function(t, ids) return t:index_select(2, ids) end),
    case("index_select dim 4", { "cube", "ids1" }, function(t, ids) return t:index_select(4, ids) end),
    case("float ids", { "x", "y" }, function(t, ids) return dagl.embedding(t, ids) end),
  },
  take_along = {
    case("gather dim 2", { "x", "ids" }, function(t, ids) return t:gather(2, ids + 1) end),
    case("gather dim 1, fewer columns", { "x", "ids" }, function(t, ids) return dagl.gather(t, 1, (ids:remainder(2) + 1)) end),
    case("strided", { "nc", "ids" }, function(t, ids) return t:gather(-1, ids + 1) end),
    case("out of range", { "x", "ids" }, function(t, ids) return t:gather(2, ids + 2) end),
    case("wrong rank", { "x", "ids1" }, function(t, ids) return t:gather(2, ids) end),
    case("float indices", { "x", "y" }, function(t, ids) return t:gather(2, ids) end),
    case("dim 3", { "x", "ids" }, function(t, ids) return t:gather(3, ids + 1) end),
  },
  scatter_add = {
    case("dim 2", { "x", "ids", "y" }, function(t, ids, v) return t:scatter_add(2, ids + 1, v:narrow(2, 1, 2)) end),
    case("dim 1, repeated", { "x", "ids", "y" }, function(t, ids, v)
      return dagl.scatter_add(t, 1, ids:remainder(2) + 1, v:narrow(2, 1, 2))
    end),
    case("int64", { "i", "ids" }, function(t, ids) return t:scatter_add(2, ids + 1, t:narrow(2, 2, 2)) end),
    case("dtypes differ", { "x", "ids", "d" }, function(t, ids, v) return t:scatter_add(2, ids + 1, v:narrow(2, 1, 2)) end),
    case("out of range", { "x", "ids", "y" }, function(t, ids, v) return t:scatter_add(2, ids + 3, v:narrow(2, 1, 2)) end),
  },
  index_add = {
    case("rows", { "x", "ids" }, function(src, ids) return dagl.index_add(src:reshape(2, 3), ids:select(2, 1), 3) end),
    case("base 1", { "x", "ids1" }, function(src, ids) return dagl.index_add(src, ids - 1, 3, 1) end),
    case("ids out of shape", { "x", "ids" }, function(src, ids) return dagl.index_add(src, ids, 3) end),
  },
  dropout_mask = {
    case("function", { "x" }, function(x) return dagl.dropout_mask(x, 0.5, 7) end),
    case("rate 1.5", { "x" }, function(x) return x:dropout_mask(1.5, 7) end),
    case("int64", { "i" }, function(x) return x:dropout_mask(0.5, 7) end),
  },
}

-- Results and errors of a case, eager and traced.
local function args_of(c)
  local a = {}
  for k, name in ipairs(c.names) do a[k] = inputs[name]() end
  return a, #c.names
end

local function eager(c)
  local a, n = args_of(c)
  return table.pack(pcall(c.f, table.unpack(a, 1, n)))
end

local function traced(c)
  local a, n = args_of(c)
  return table.pack(pcall(dagl.fn(c.f), table.unpack(a, 1, n)))
end

-- Error text without the "file:line: " a position adds.
local function bare(e) return (tostring(e):gsub("^[^\n]-:%d+: ", "")) end

-- Bitwise equality of two tensors: dtype, shape, and each element (NaNs equal to NaNs).
local function same_bits(a, b)
  if not (dagl.is_tensor(a) and dagl.is_tensor(b)) then return a == b end
  if a:dtype() ~= b:dtype() then return false, ("dtype %s vs %s"):format(a:dtype(), b:dtype()) end
  local sa, sb = table.concat(a.shape, ","), table.concat(b.shape, ",")
  if sa ~= sb then return false, ("shape [%s] vs [%s]"):format(sa, sb) end
  local fa, fb = a:reshape(-1):totable(), b:reshape(-1):totable()
  if a:dim() == 0 then fa, fb = { a:item() }, { b:item() } end
  for k = 1, #fa do
    local x, y = fa[k], fb[k]
    if not (x == y or (x ~= x and y ~= y)) then
      return false, ("element %d: %.17g vs %.17g"):format(k, x, y)
    end
  end
  return true
end

-- The Lua name of a LUA op: its op-list name.
local function cases_of(op)
  if op.lua == "LUA" then
    local make = by_class[op.class]
    return make and make(op.name)
  end
  if op.lua == "HAND" then return by_op[op.name] end
end

describe("op parity (eager vs traced, every op of the op list)", function()
  local ops = dagl.ops()

  it("covers every op Lua can call", function()
    local missing = {}
    for _, op in ipairs(ops) do
      if op.lua ~= "NOLUA" and op.name ~= "assign" and not cases_of(op) then missing[#missing + 1] = op.name end
    end
    assert.same({}, missing)
  end)

  for _, op in ipairs(ops) do
    local cases = cases_of(op)
    if cases then
      describe(op.name, function()
        for _, c in ipairs(cases) do
          it(c.label, function()
            local e, t = eager(c), traced(c)
            if not e[1] then
              assert.is_false(t[1], ("traced call succeeded where eager raised: %s"):format(bare(e[2])))
              -- an error that depends on values (an id out of range) happens while the graph
              -- runs: the message is the same, after the node and shapes a run names first
              local te = bare(t[2]):gsub("^node %%%d+ %b(): ", "")
              assert.equal(bare(e[2]), te)
              return
            end
            assert.is_true(t[1], ("traced call raised where eager worked: %s"):format(tostring(t[2])))
            assert.equal(e.n, t.n)
            for k = 2, e.n do
              local ok, why = same_bits(e[k], t[k])
              assert.is_true(ok, ("result %d differs: %s"):format(k - 1, tostring(why)))
            end
          end)
        end
      end)
    end
  end

  it("every op class used by a LUA row has cases", function()
    for _, op in ipairs(ops) do
      if op.lua == "LUA" then assert.is_truthy(by_class[op.class], op.class) end
    end
  end)
end)

describe("what a trace knows and what it does not (the issue's table, on a [2, 3] tensor)", function()
  local t = function() return dagl.tensor { { 1, 2, 3 }, { 4, 5, 6 } } end

  it("#x, x.shape, x:size(d), x:dim(), x:numel(), x:dtype() are the static values", function()
    local seen
    local f = dagl.fn(function(x)
      seen = { #x, x.shape[2], x:size(2), x:size(-1), x:dim(), x:numel(), x:dtype() }
      local acc = x:sum(2) * 0
      for i = 1, #x do acc = acc + x:select(1, i):sum() end -- a loop over #x runs
      return acc
    end)
    local r = f(t())
    assert.same({ 2, 3, 3, 3, 2, 6, "float32" }, seen)
    assert.same({ 21, 21 }, r:totable())
  end)

  it("values raise, saying why and what to use instead", function()
    local function traced_error(body) return bare(select(2, pcall(dagl.fn(body), t()))) end
    assert.matches("item: a traced tensor .* has no values until the graph runs; keep computing with tensor ops %(dagl.where",
      traced_error(function(x) return x:sum():item() end))
    assert.matches("totable: a traced tensor .* has no values", traced_error(function(x) return x:totable() end))
    assert.matches("index: a traced tensor .* x%[i%] of a 1%-d tensor is a Lua number; use x:narrow",
      traced_error(function(x) return x[1][2] end))
    assert.matches("compare: < and <= on a traced tensor would need its values .* dagl.where",
      traced_error(function(x) if x < x then return x end return x end))
    assert.matches("fill: a traced tensor cannot be written in place", traced_error(function(x) return x:fill(1) end))
    assert.matches("index: a traced tensor cannot be written in place", traced_error(function(x) x[1] = 0 return x end))
    assert.matches("stride: a traced tensor has no memory layout", traced_error(function(x) return x:stride() end))
    assert.matches("dagl.Symbol%(.*float32 %[2, 3%]; traced", traced_error(function(x) error(tostring(x)) end))
  end)

  it("x[i] of a tensor with 2 or more dims is the row, as eager", function()
    local e = t()[2]
    local r = dagl.fn(function(x) return x[2] end)(t())
    assert.same(e:totable(), r:totable())
  end)
end)
