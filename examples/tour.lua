-- tour.lua -- a quick tour of dagl tensors: creation, views, broadcasting, reductions, matmul
-- and errors. Run it with: build/dagl examples/tour.lua
local dagl = require "dagl"

local function section(title) print(("\n-- %s %s"):format(title, ("-"):rep(60 - #title))) end

-- Prints "label = value", continuation lines of a tensor aligned under its first line.
local function show(label, value)
  local pad = "\n" .. (" "):rep(#label + 3)
  print(label .. " = " .. (tostring(value):gsub("\n([^\n])", function(c) return pad .. c end)))
end

section("creation")
-- Shapes are given as arguments or as a table; float32 is the default dtype.
local z = dagl.zeros(2, 3)
show("dagl.zeros(2, 3)", z)
show("dagl.full({2, 2}, 7, 'int64')", dagl.full({ 2, 2 }, 7, "int64"))
show("dagl.arange(0, 1, 0.25)", dagl.arange(0, 1, 0.25))
show("dagl.linspace(-1, 1, 5)", dagl.linspace(-1, 1, 5))
-- Nested tables become tensors; dims and indices are 1-based, as in Torch7.
local x = dagl.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
show("x", x)
print(("x.shape = {%s}, x:dtype() = %s, #x = %d"):format(table.concat(x.shape, ", "), x:dtype(), #x))
show("x[2]", x[2])  -- a row view
print(("x[2][3] = %g, x[-1][-1] = %g"):format(x[2][3], x[-1][-1]))
-- The random generator is counter-based: the same seed gives the same numbers.
dagl.manual_seed(0)
local r = dagl.randn(2, 2)
dagl.manual_seed(0)
show("manual_seed(0); randn(2, 2)", r)
show("manual_seed(0); randn(2, 2)", dagl.randn(2, 2))

section("views share memory")
local a = dagl.arange(12):reshape(3, -1) -- -1: inferred (4)
show("a", a)
local col = a:select(2, 1)               -- column 1, a view
col:fill(-1)                             -- writes through to a
show("after a:select(2, 1):fill(-1): a", a)
local at = a:t()                         -- transpose: strides swapped, no copy
print(("a:t(): strides {%s}, contiguous: %s"):format(table.concat(at:stride(), ", "), at:is_contiguous()))
show("a:slice(2, 2, 3) (columns 2..3)", a:slice(2, 2, 3))
print(("a:narrow(1, 2, 2):unsqueeze(1).shape = {%s}"):format(table.concat(a:narrow(1, 2, 2):unsqueeze(1).shape, ", ")))
local row = dagl.tensor { 10, 20, 30, 40 }
local e = row:expand(3, 4)               -- stride 0: one row seen 3 times
print(("row:expand(3, 4): shape {%s}, strides {%s}"):format(table.concat(e.shape, ", "), table.concat(e:stride(), ", ")))
a[1] = row                               -- t[i] = tensor copies into row i
show("after a[1] = row: a", a)

section("broadcasting and elementwise math")
local c = dagl.tensor { { 100 }, { 200 } } -- 2x1
show("x + c (2x3 + 2x1)", x + c)
show("x * dagl.tensor{1, 0, -1}", x * dagl.tensor { 1, 0, -1 })
show("2 ^ x", 2 ^ x)
show("(x - 3.5):relu()", (x - 3.5):relu())
show("x:gt(2)", x:gt(2))
show("dagl.where(x:gt(2), x, 0)", dagl.where(x:gt(2), x, 0))
show("x:sigmoid()", x:sigmoid())

section("reductions (dim, keepdim)")
show("x:sum()", x:sum())
print("x:sum():item() = " .. x:sum():item())
show("x:sum(1)", x:sum(1))
show("x:mean(2, true)", x:mean(2, true))
show("x:max(2)", x:max(2))
show("x:argmax(2)", x:argmax(2))  -- int64, 1-based
show("x:var()", x:var())  -- unbiased, like torch.var
-- Standardize rows: keepdim keeps the reduced dim, so the result broadcasts back.
local mu, sd = x:mean(2, true), x:var(2, true):sqrt()
show("(x - mean) / std per row", (x - mu) / sd)

section("matmul")
local A = dagl.tensor { { 1, 2 }, { 3, 4 } }
local B = dagl.tensor { { 5, 6 }, { 7, 8 } }
show("A:matmul(B)", A:matmul(B))
show("A:matmul(vector{1, 1})", A:matmul(dagl.tensor { 1, 1 }))
local batch = dagl.tensor { { { 1, 0 }, { 0, 1 } }, { { 2, 0 }, { 0, 2 } } }
show("batch:matmul(A)", batch:matmul(A))  -- {2, 2, 2} x {2, 2}
dagl.manual_seed(1)
local P, Q = dagl.randn(3, 4), dagl.randn(4, 5)
local diff = (P:matmul(Q):t() - Q:t():matmul(P:t())):abs():max():item()
print(("(P Q)^T == Q^T P^T: max difference %.3g"):format(diff))

section("errors are Lua errors naming the call and the shapes")
local function try(what, f)
  local ok, err = pcall(f)
  -- the message starts with the script position ("tour.lua:88: "); shown without it here
  print(("%-24s -> %s"):format(what, ok and "ok" or tostring(err):gsub("^[^:]*:%d+: ", "")))
end
try("zeros(2, 3) + zeros(2)", function() return dagl.zeros(2, 3) + dagl.zeros(2) end)
try("A:matmul(zeros(3, 2))", function() return A:matmul(dagl.zeros(3, 2)) end)
try("x[3]", function() return x[3] end)
try("x:sum(3)", function() return x:sum(3) end)
try("x:reshape(4)", function() return x:reshape(4) end)
try("x:t():view(6)", function() return x:t():view(6) end)
try("zeros(2, 'float16')", function() return dagl.zeros(2, "float16") end)
try("tensor{{1, 2}, {3}}", function() return dagl.tensor { { 1, 2 }, { 3 } } end)

section("memory")
do
  local big <close> = dagl.zeros(1000, 1000) -- freed at the end of this block, not by the GC
  print(("a 1000x1000 float32 tensor: %.1f MB live"):format(dagl.live_bytes() / 2 ^ 20))
end
print(("after its block:            %.1f MB live"):format(dagl.live_bytes() / 2 ^ 20))
show("dagl.arange(2000)", dagl.arange(2000))  -- big tensors print summarized
