-- tour.lua -- a quick tour of dagl tensors: creation, views, broadcasting, reductions, matmul
-- and errors. Run it with: build/dagl examples/tour.lua
local dagl = require "dagl"

local function section(title) print(("\n-- %s %s"):format(title, ("-"):rep(60 - #title))) end

section("creation")
-- Shapes are given as arguments or as a table; float32 is the default dtype.
local z = dagl.zeros(2, 3)
print("dagl.zeros(2, 3) =", z)
print("dagl.full({2, 2}, 7, 'int64') =", dagl.full({ 2, 2 }, 7, "int64"))
print("dagl.arange(0, 1, 0.25) =", dagl.arange(0, 1, 0.25))
print("dagl.linspace(-1, 1, 5) =", dagl.linspace(-1, 1, 5))
-- Nested tables become tensors; dims and indices are 1-based, as in Torch7.
local x = dagl.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
print("x =", x)
print("x.shape =", table.concat(x.shape, "x"), " x:dtype() =", x:dtype(), " #x =", #x)
print("x[2] =", x[2], " x[2][3] =", x[2][3], " x[-1][-1] =", x[-1][-1])
-- The random generator is counter-based: the same seed gives the same numbers.
dagl.manual_seed(0)
local r = dagl.randn(2, 2)
dagl.manual_seed(0)
print("randn(2, 2) after manual_seed(0), twice the same:", r, dagl.randn(2, 2))

section("views share memory")
local a = dagl.arange(12):reshape(3, -1) -- -1: inferred (4)
print("a = arange(12):reshape(3, -1) =", a)
local col = a:select(2, 1)               -- column 1, a view
col:fill(-1)                             -- writes through to a
print("after a:select(2, 1):fill(-1), a =", a)
local at = a:t()                         -- transpose: strides swapped, no copy
print("a:t() strides", table.concat(at:stride(), ","), "contiguous?", at:is_contiguous())
print("a:slice(2, 2, 3) (columns 2..3) =", a:slice(2, 2, 3))
print("a:narrow(1, 2, 2):unsqueeze(1).shape =", table.concat(a:narrow(1, 2, 2):unsqueeze(1).shape, "x"))
local row = dagl.tensor { 10, 20, 30, 40 }
local e = row:expand(3, 4)               -- stride 0: one row seen 3 times
print("row:expand(3, 4) strides", table.concat(e:stride(), ","))
a[1] = row                               -- t[i] = tensor copies into row i
print("after a[1] = row, a =", a)

section("broadcasting and elementwise math")
local c = dagl.tensor { { 100 }, { 200 } } -- 2x1
print("x + c (2x3 + 2x1) =", x + c)
print("x * dagl.tensor{1, 0, -1} =", x * dagl.tensor { 1, 0, -1 })
print("2 ^ x =", 2 ^ x)
print("(x - 3.5):relu() =", (x - 3.5):relu())
print("x:gt(2) =", x:gt(2))
print("dagl.where(x:gt(2), x, 0) =", dagl.where(x:gt(2), x, 0))
print("x:sigmoid() =", x:sigmoid())

section("reductions (dim, keepdim)")
print("x:sum() =", x:sum(), "= " .. x:sum():item())
print("x:sum(1) =", x:sum(1))
print("x:mean(2, true) =", x:mean(2, true))
print("x:max(2) =", x:max(2), " x:argmax(2) =", x:argmax(2))
print("x:var() =", x:var(), " (unbiased)")
-- Standardize rows: keepdim keeps the reduced dim, so the result broadcasts back.
local mu, sd = x:mean(2, true), x:var(2, true):sqrt()
print("(x - mean) / std per row =", (x - mu) / sd)

section("matmul")
local A = dagl.tensor { { 1, 2 }, { 3, 4 } }
local B = dagl.tensor { { 5, 6 }, { 7, 8 } }
print("A:matmul(B) =", A:matmul(B))
print("A:matmul(vector{1, 1}) =", A:matmul(dagl.tensor { 1, 1 }))
local batch = dagl.tensor { { { 1, 0 }, { 0, 1 } }, { { 2, 0 }, { 0, 2 } } }
print("batch (2x2x2) :matmul(A) =", batch:matmul(A))
dagl.manual_seed(1)
local P, Q = dagl.randn(3, 4), dagl.randn(4, 5)
local diff = (P:matmul(Q):t() - Q:t():matmul(P:t())):abs():max():item()
print(("(P Q)^T == Q^T P^T: max difference %.3g"):format(diff))

section("errors are Lua errors naming the call and the shapes")
local function try(what, f)
  local ok, err = pcall(f)
  print(("%-28s -> %s"):format(what, ok and "ok" or err))
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
print("a big tensor prints summarized:", dagl.arange(2000))
