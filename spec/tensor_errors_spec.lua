-- tensor_errors_spec.lua -- every bad call raises a Lua error whose message names the function
-- and the shapes involved, and the next call still works.
local dagl = require "dagl"

-- A fresh computation that must succeed after an error (nothing left over from the failure).
local function still_works()
  local a = dagl.tensor { { 1, 2 }, { 3, 4 } }
  local r = (a:matmul(a) + 1):sum():item()
  assert.are.equal(58, r) -- {{7, 10}, {15, 22}} + 1
  assert.are.equal(2, dagl.ones(2)[2] * 2)
end

-- fn must raise with every string in the message; then still_works.
local function raises(fn, ...)
  local msg = assert_raises(fn, ...)
  still_works()
  return msg
end

describe("tensor errors", function()
  local m23 = function() return dagl.zeros(2, 3) end

  describe("broadcasting", function()
    it("names the op and both shapes", function()
      raises(function() return m23() + dagl.zeros(2) end, "add", "[2, 3]", "[2]", "cannot be broadcast")
      raises(function() return m23() - dagl.zeros(3, 2) end, "sub", "[2, 3]", "[3, 2]", "cannot be broadcast")
      raises(function() return m23() * dagl.zeros(4, 1, 2) end, "mul", "[2, 3]", "[4, 1, 2]")
      raises(function() return dagl.zeros(5) / dagl.zeros(4) end, "div", "[5]", "[4]")
      raises(function() return dagl.zeros(2, 2):lt(dagl.zeros(3)) end, "lt", "[2, 2]", "[3]")
      raises(function() return dagl.maximum(dagl.zeros(2), dagl.zeros(3)) end, "maximum", "[2]", "[3]")
    end)

    it("in where and in assignments", function()
      raises(function() return dagl.where(dagl.ones(2), dagl.zeros(3), 0) end, "where", "[2]", "[3]")
      raises(function() local t = m23(); t[1] = dagl.zeros(2) end, "[2]", "[3]")
      raises(function() return m23():copy(dagl.zeros(3, 2)) end, "copy", "[3, 2]", "[2, 3]")
    end)
  end)

  describe("matmul", function()
    it("names both shapes when inner dims differ", function()
      raises(function() return dagl.zeros(2, 3):matmul(dagl.zeros(4, 5)) end, "matmul", "[2, 3]", "[4, 5]")
      raises(function() return dagl.zeros(3):matmul(dagl.zeros(4)) end, "matmul", "[3]", "[4]")
      raises(function() return dagl.zeros(2, 3):matmul(dagl.zeros(2)) end, "matmul", "[2, 3]", "[2]")
      raises(function() return dagl.zeros(2):matmul(dagl.zeros(3, 2)) end, "matmul", "[2]", "[3, 2]")
    end)

    it("rejects batch dims that do not broadcast and 0-d operands", function()
      raises(function() return dagl.zeros(2, 2, 3):matmul(dagl.zeros(3, 3, 4)) end, "matmul", "[2, 2, 3]",
        "[3, 3, 4]")
      raises(function() return dagl.matmul(dagl.tensor(1), dagl.zeros(2)) end, "matmul")
    end)

    it("rejects non-tensor arguments", function()
      raises(function() return dagl.matmul(dagl.zeros(2, 2), 3) end, "matmul", "dagl.Tensor expected, got number")
      raises(function() return dagl.zeros(2, 2):matmul({ { 1 } }) end, "matmul", "got table")
    end)
  end)

  describe("indexing", function()
    it("index 0 is not an index", function()
      local v = dagl.zeros(3)
      raises(function() return v[0] end, "index", "0", "start at 1")
      raises(function() v[0] = 1 end, "index", "0", "start at 1")
      raises(function() return v:select(1, 0) end, "select", "start at 1")
      raises(function() return v:narrow(1, 0, 1) end, "narrow", "start at 1")
    end)

    it("out-of-range indices name the index (1-based) and the shape", function()
      local v, m = dagl.zeros(3), dagl.zeros(2, 3)
      raises(function() return v[4] end, "index", "index 4", "[3]")
      raises(function() return v[-4] end, "index", "index -4", "[3]")
      raises(function() return m[3] end, "index", "index 3", "[2, 3]")
      raises(function() v[4] = 1 end, "index", "index 4", "[3]")
      raises(function() m[1][4] = 1 end, "index", "index 4", "[3]")
      raises(function() return m:select(2, 4) end, "select", "index 4", "dimension 2", "[2, 3]")
      raises(function() return m:narrow(2, 2, 3) end, "narrow", "dimension 2", "[2, 3]")
      raises(function() return dagl.tensor(1)[1] end, "index", "0-d")
    end)

    it("non-integer keys are not indices", function()
      local v = dagl.zeros(3)
      assert.is_nil(v[1.5])
      raises(function() v[1.5] = 1 end, "number has no integer representation")
      raises(function() v[1] = "x" end, "number or dagl.Tensor expected, got string")
    end)
  end)

  describe("dims", function()
    it("out-of-range dims name the function, the dim and the shape", function()
      local m = m23()
      raises(function() return m:sum(3) end, "sum", "dimension 3", "[2, 3]")
      raises(function() return m:sum(-3) end, "sum", "dimension -3", "[2, 3]")
      raises(function() return m:mean({ 1, 5 }) end, "mean", "dimension 5", "[2, 3]")
      raises(function() return m:max(0) end, "max", "dimension 0", "[2, 3]")
      raises(function() return m:argmax(3) end, "argmax", "dimension 3")
      raises(function() return m:transpose(1, 3) end, "transpose", "dimension 3", "[2, 3]")
      raises(function() return m:size(3) end, "size", "dimension 3", "[2, 3]")
      raises(function() return m:squeeze(4) end, "squeeze", "dimension 4", "[2, 3]")
      raises(function() return m:unsqueeze(4) end, "unsqueeze", "dimension 4", "[2, 3]")
      raises(function() return m:select(3, 1) end, "select", "dimension 3")
      raises(function() return m:slice(0, 1, 2) end, "slice", "dimension 0")
      raises(function() return dagl.sum(m, 7) end, "sum", "dimension 7")
    end)

    it("permute needs every dim once", function()
      local m = m23()
      raises(function() return m:permute(1) end, "permute", "1", "2")
      raises(function() return m:permute(1, 1) end, "permute", "dimension 1", "twice", "[2, 3]")
      raises(function() return m:permute(-1, 2) end, "permute", "dimension 2", "twice", "[2, 3]")
      raises(function() return m:permute(1, 3) end, "permute", "dimension 3")
    end)

    it("argmax takes one dim or none", function()
      raises(function() return m23():argmax({ 1, 2 }) end, "argmax")
    end)
  end)

  describe("shapes", function()
    it("reshape and view to the wrong element count", function()
      local m = m23()
      raises(function() return m:reshape(4) end, "reshape", "[2, 3]", "[4]")
      raises(function() return m:reshape(4, -1) end, "reshape", "[2, 3]", "[4, -1]")
      raises(function() return m:reshape(-1, -1) end, "reshape", "[2, 3]")
      raises(function() return m:view(7) end, "view", "[2, 3]", "[7]")
      raises(function() return m:reshape({ 2, "x" }) end, "reshape", "integers")
    end)

    it("view of a non-contiguous tensor suggests reshape", function()
      raises(function() return m23():t():view(6) end, "view", "[3, 2]", "[6]", "reshape")
      raises(function() return dagl.zeros(4, 4):slice(2, 1, 3):view(12) end, "view", "[4, 3]", "[12]")
      -- every other column has one uniform stride (2), so that one is a view, as in torch
      assert.are.same({ 2 }, dagl.zeros(4, 4):slice(2, 1, -1, 2):view(8):stride())
    end)

    it("expand only size-1 dims", function()
      raises(function() return dagl.zeros(3):expand(2, 4) end, "expand", "[3]", "[2, 4]")
      raises(function() return dagl.zeros(2, 3):expand(3) end, "expand", "[2, 3]", "[3]")
    end)

    it("item needs one element, # needs a dim", function()
      raises(function() return m23():item() end, "item", "[2, 3]", "6 elements")
      raises(function() return #dagl.tensor(1) end, "0-d")
    end)

    it("slice steps are positive", function()
      raises(function() return dagl.zeros(5):slice(1, 1, 5, 0) end, "slice", "step")
      raises(function() return dagl.zeros(5):slice(1, 5, 1, -1) end, "slice", "step")
    end)

    it("bad shapes at creation", function()
      raises(function() return dagl.zeros(2, -1) end, "[2, -1]")
      raises(function() return dagl.zeros({ 2, 2.5 }) end, "zeros", "integers")
      raises(function() return dagl.zeros(2.5) end, "zeros", "integer")
      raises(function() return dagl.zeros(1, 1, 1, 1, 1, 1, 1, 1, 1) end, "zeros", "dimensions")
      raises(function() return dagl.linspace(0, 1, -1) end, "linspace")
      raises(function() return dagl.arange(0, 1, 0) end, "arange")
      raises(function() return dagl.full(2, 1) end, "full", "table expected")
    end)
  end)

  describe("types", function()
    it("wrong argument types name the function", function()
      local m = m23()
      raises(function() return m:add("x") end, "add", "string")
      raises(function() return m + {} end, "table")
      raises(function() return {} * m end, "table")
      raises(function() return m:sum("x") end, "sum", "number expected, got string")
      raises(function() return m:clamp("lo") end, "clamp", "number expected, got string")
      raises(function() return dagl.exp(3) end, "exp", "dagl.Tensor expected, got number")
      raises(function() return dagl.exp() end, "exp", "dagl.Tensor expected")
      raises(function() return m:fill("x") end, "fill", "number expected, got string")
      raises(function() return dagl.tensor("abc") end, "tensor", "table expected, got string")
      raises(function() return dagl.sum(io.stdout) end, "sum", "dagl.Tensor expected")
      raises(function() return dagl.add({}, 1) end, "add", "dagl.Tensor expected, got table")
      raises(function() return dagl.sum({}) end, "sum", "dagl.Tensor expected, got table")
    end)

    it("module functions forward traced symbols to their methods", function()
      local x = dagl.tensor { 0.5, -1, 2 }
      local body = function(v)
        return dagl.clamp(dagl.sum(dagl.add(dagl.exp(v), 1), 1), 0, 100), dagl.matmul(v:reshape(1, 3), v:reshape(3, 1))
      end
      local s, p = dagl.fn(body)(x)
      local es, ep = body(x)
      assert.near(es:item(), s:item(), 1e-5)
      assert.near(ep:item(), p:item(), 1e-5)
    end)

    it("unknown dtypes are named", function()
      raises(function() return dagl.zeros(2, "float16") end, "zeros", "float16")
      raises(function() return dagl.tensor({ 1 }, "half") end, "tensor", "half")
      raises(function() return dagl.ones({ 2 }, "int32") end, "ones", "int32")
      raises(function() return dagl.arange(3, "int8") end, "arange", "int8")
      raises(function() return m23():to("bfloat16") end, "to", "bfloat16")
      raises(function() return dagl.rand(2, "complex64") end, "rand", "complex64")
    end)
  end)

  describe("positions inside dagl.fn", function()
    -- the line of this file a pcall'd error points at
    local function line_of(err) return tonumber(tostring(err):match("tensor_errors_spec%.lua:(%d+):")) end

    it("point at the user's line, also through tail calls and layers", function()
      local w = dagl.ones(3, 3)
      local tail = dagl.fn(function(x) return x:matmul(w) end) -- a tail call of a C function keeps its frame
      local tail_line = debug.getinfo(1, "l").currentline - 1
      local nested = dagl.fn(function(x) local y = x:matmul(w) return y end)
      local nested_line = debug.getinfo(1, "l").currentline - 1
      local dense = dagl.nn.Dense(2)
      local layered = dagl.fn(function(x) return dense(x):sum(5) end)
      local layered_line = debug.getinfo(1, "l").currentline - 1
      local x = dagl.ones(2, 4)
      local ok, err = pcall(tail, x) local here = debug.getinfo(1, "l").currentline
      assert.is_false(ok)
      assert.matches("matmul: shapes %[2, 4%] and %[3, 3%]", err)
      assert.equal(tail_line, line_of(err)) -- the matmul's own line
      ok, err = pcall(nested, x)
      assert.equal(nested_line, line_of(err)) -- the matmul's own line
      ok, err = pcall(layered, x) here = debug.getinfo(1, "l").currentline
      assert.matches("sum: dimension 5 out of range for a tensor of shape %[2, 2%]", err) -- as written: 1-based
      assert.equal(layered_line, line_of(err))
      local function traced_error(body) return select(2, pcall(dagl.fn(body), dagl.ones(2, 2))) end
      assert.matches("sum: dimension %-2 is given twice %(as 1 and %-2%)", traced_error(function(v) return v:sum({1, -2}) end))
      assert.matches("transpose: dimension 5 out of range", traced_error(function(v) return v:transpose(5, 1) end))
      assert.matches("softmax: dimension 3 out of range", traced_error(function(v) return v:softmax(3) end))
      assert.matches("permute: dimension 0 out of range", traced_error(function(v) return v:permute(0, 1) end))
      -- a float with an integer value is that dim, as on real tensors
      assert.same({3, 3}, dagl.fn(function(v) return v:sum(2.0) end)(dagl.ones(2, 3)):totable())
      ok, err = pcall(tail, "x") here = debug.getinfo(1, "l").currentline
      assert.matches("dagl.fn: argument 1 must be a tensor, got string", err)
      assert.equal(here, line_of(err))
    end)
  end)

  describe("recovery", function()
    it("many failing calls leave no memory behind", function()
      collectgarbage()
      local base = dagl.live_bytes()
      local big = dagl.zeros(100, 100)
      for _ = 1, 1000 do
        pcall(function() return big + dagl.zeros(3) end)
        pcall(function() return big:matmul(dagl.zeros(3, 3)) end)
        pcall(function() return dagl.tensor { { 1, 2 }, { 3 } } end)
        pcall(function() return big:reshape(7) end)
      end
      big = nil
      collectgarbage()
      collectgarbage()
      assert.is_true(dagl.live_bytes() - base < 4096, "leaked " .. (dagl.live_bytes() - base) .. " bytes")
      still_works()
    end)

    it("an error inside a to-be-closed scope still closes the tensor", function()
      local kept
      local ok = pcall(function()
        local t <close> = dagl.ones(3)
        kept = t
        return t + dagl.ones(4)
      end)
      assert.is_false(ok)
      assert_raises(function() return kept:sum() end, "closed tensor")
      still_works()
    end)

    it("error messages do not carry over to later errors", function()
      local m1 = assert_raises(function() return dagl.zeros(2) + dagl.zeros(3) end, "[2]", "[3]")
      local m2 = assert_raises(function() return dagl.zeros(5):reshape(2) end, "reshape")
      assert.is_nil(m2:find("broadcast", 1, true), m2)
      assert.is_nil(m1:find("reshape", 1, true), m1)
    end)
  end)
end)
