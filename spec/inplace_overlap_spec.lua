-- inplace_overlap_spec.lua -- in-place writes through views whose elements overlap (issue 13,
-- item 4): fill, copy, add_, assign and x[i] = v on an expanded tensor (or a view of one that
-- keeps a stride-0 dim) raise, as in PyTorch, before writing anything; eager and traced assign
-- raise the same error; reads of expanded views, writes through ordinary views and writes into
-- a clone still work.
local dagl = require "dagl"

-- The error text of (shape, strides, size of the stride-0 dim) for the method `op`.
local function overlap_error(op, shape, strides, size)
  return ("%s: the tensor written in place has overlapping elements (shape [%s], strides [%s]: stride 0 on a "
    .. "dimension of size %d, as expand makes); clone() it first"):format(op, table.concat(shape, ", "),
    table.concat(strides, ", "), size)
end

-- The message of fn's error without the "file:line: " Lua puts in front.
local function message(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

-- A row (1, 4) holding 1..4 and its expansion to (3, 4).
local function expanded()
  local row = dagl.tensor { { 1, 2, 3, 4 } }
  return row, row:expand(3, 4)
end

describe("in-place writes through overlapping views", function()
  describe("raise on an expanded tensor", function()
    local EXP = overlap_error("%s", { 3, 4 }, { 0, 1 }, 3)

    it("add_", function()
      local row, x = expanded()
      assert.are.equal(EXP:format("add_"), message(function() x:add_(dagl.ones(3, 4)) end))
      assert.are.equal(EXP:format("add_"), message(function() dagl.add_(x, dagl.ones(4), 2) end))
      assert_equal_values(row, { { 1, 2, 3, 4 } })
    end)

    it("fill", function()
      local row, x = expanded()
      assert.are.equal(EXP:format("fill"), message(function() x:fill(0) end))
      assert.are.equal(EXP:format("fill"), message(function() dagl.fill(x, 0) end))
      assert_equal_values(row, { { 1, 2, 3, 4 } })
    end)

    it("copy", function()
      local row, x = expanded()
      assert.are.equal(EXP:format("copy"), message(function() x:copy(dagl.zeros(3, 4)) end))
      assert.are.equal(EXP:format("copy"), message(function() dagl.copy(x, dagl.zeros(4)) end))
      assert_equal_values(row, { { 1, 2, 3, 4 } })
    end)

    it("assign, eagerly and traced alike", function()
      local row, x = expanded()
      local eager = message(function() dagl.assign(x, dagl.zeros(3, 4)) end)
      assert.are.equal(EXP:format("assign"), eager)
      assert.are.equal(eager, message(function() x:assign(dagl.zeros(3, 4)) end))
      local f = dagl.fn(function(v) return dagl.assign(x, v * 2) end)
      assert.are.equal(eager, message(function() f(dagl.zeros(3, 4)) end))
      assert_equal_values(row, { { 1, 2, 3, 4 } })
    end)

    it("an assign node of a graph built by hand, when the node is added", function()
      local row = dagl.tensor { { 1, 2, 3, 4 } }
      local g = dagl.graph()
      local v = g:input("float32", { 3, 4 })
      local c = g:constant(row)
      local e = g:node("expand", { c }, { shape = { 3, 4 } })
      assert.are.equal(overlap_error("assign", { 3, 4 }, { 0, 1 }, 3),
        message(function() g:node("assign", { e, v }) end))
    end)

    it("x[i] = v when row i still repeats an element", function()
      local one = dagl.tensor { { 5 } }
      local x = one:expand(3, 4) -- every row is one element 4 times
      local err = overlap_error("index", { 4 }, { 0 }, 4)
      assert.are.equal(err, message(function() x[2] = 7 end))
      assert.are.equal(err, message(function() x[2] = dagl.ones(4) end))
      local cube = dagl.tensor { { { 1, 2 } } }:expand(2, 3, 2)
      assert.are.equal(overlap_error("index", { 3, 2 }, { 0, 1 }, 3), message(function() cube[1] = 0 end))
      assert.are.equal(5, one[1][1])
      assert_equal_values(cube, { { { 1, 2 }, { 1, 2 }, { 1, 2 } }, { { 1, 2 }, { 1, 2 }, { 1, 2 } } })
    end)

    it("views of an expanded tensor that keep a stride-0 dim", function()
      local base = dagl.arange(4)
      local cols = base:unsqueeze(2):expand(4, 3) -- strides {1, 0}
      assert.are.equal(overlap_error("fill", { 3, 4 }, { 0, 1 }, 3), message(function() cols:t():fill(1) end))
      local tall = dagl.tensor { { 1, 2, 3, 4 } }:expand(6, 4)
      local v = tall:view(2, 3, 4)
      assert.are.same({ 0, 0, 1 }, v:stride())
      assert.are.equal(overlap_error("add_", { 2, 3, 4 }, { 0, 0, 1 }, 2),
        message(function() v:add_(dagl.ones(2, 3, 4)) end))
      assert.are.equal(overlap_error("copy", { 2, 4 }, { 0, 1 }, 2),
        message(function() tall:slice(1, 1, -1, 3):copy(dagl.zeros(2, 4)) end))
      assert.are.equal(overlap_error("fill", { 6 }, { 0 }, 6), message(function() tall:select(2, 1):fill(0) end))
      assert.are.equal(overlap_error("fill", { 3 }, { 0 }, 3),
        message(function() dagl.tensor(2):expand(3):fill(0) end)) -- a 0-d tensor expanded
      assert_equal_values(base, { 0, 1, 2, 3 })
    end)
  end)

  describe("still work", function()
    it("reading expanded views broadcasts", function()
      local row, x = expanded()
      assert_equal_values(x + 1, { { 2, 3, 4, 5 }, { 2, 3, 4, 5 }, { 2, 3, 4, 5 } })
      assert_equal_values(x:sum(1), { 3, 6, 9, 12 })
      assert_equal_values(x:matmul(dagl.ones(4, 1)), { { 10 }, { 10 }, { 10 } })
      local y = dagl.zeros(3, 4)
      y:copy(x) -- an expanded source is fine
      y:add_(x)
      assert_equal_values(y, { { 2, 4, 6, 8 }, { 2, 4, 6, 8 }, { 2, 4, 6, 8 } })
      assert_equal_values(row, { { 1, 2, 3, 4 } })
    end)

    it("writing a clone of an expanded view", function()
      local row, x = expanded()
      local c = x:clone():add_(dagl.tensor { 10, 20, 30 }:unsqueeze(2))
      assert_equal_values(c, { { 11, 12, 13, 14 }, { 21, 22, 23, 24 }, { 31, 32, 33, 34 } })
      x:contiguous():fill(0)
      dagl.assign(x:clone(), dagl.zeros(3, 4))
      assert_equal_values(row, { { 1, 2, 3, 4 } })
    end)

    it("x[i] = v when row i is distinct elements (all rows see it, as in PyTorch)", function()
      local row, x = expanded()
      x[2] = dagl.tensor { 7, 8, 9, 10 }
      assert_equal_values(row, { { 7, 8, 9, 10 } })
      x[3][1] = 0 -- one element
      assert_equal_values(x, { { 0, 8, 9, 10 }, { 0, 8, 9, 10 }, { 0, 8, 9, 10 } })
    end)

    it("writes through transpose, slice with a step, select and narrow", function()
      local a = dagl.arange(12):reshape(3, 4)
      a:t():fill(-1)
      a:slice(2, 2, 4, 2):add_(dagl.ones(3, 2), 3) -- columns 2 and 4
      a:select(1, 3):copy(dagl.tensor { 5, 6, 7, 8 })
      a:narrow(2, 1, 1)[2] = 9
      dagl.assign(a:slice(1, 1, 1):t(), dagl.tensor { { 0 }, { 0 }, { 0 }, { 0 } })
      assert_equal_values(a, { { 0, 0, 0, 0 }, { 9, 2, -1, 2 }, { 5, 6, 7, 8 } })
    end)

    it("a traced assign into a transposed view", function()
      local w = dagl.zeros(2, 3)
      local f = dagl.fn(function(v) return dagl.assign(w:t(), v + 1) end)
      f(dagl.arange(6):reshape(3, 2):float())
      assert_equal_values(w, { { 1, 3, 5 }, { 2, 4, 6 } })
    end)
  end)
end)
