-- helper.lua -- loaded by busted before the specs: finds the dagl Lua library in the source tree
-- and defines small assertion helpers for tensors (globals, also returned as a table).
--
-- Specs run from the source dir (ctest sets WORKING_DIRECTORY), so "lua/?.lua" finds lua/dagl;
-- the dir of this file is added too, so running busted from elsewhere works.
local here = debug.getinfo(1, "S").source:match("^@(.-)/?spec/[^/]*$")
local src = (here and here ~= "") and (here .. "/") or ""
package.path = "lua/?.lua;lua/?/init.lua;"
  .. (src ~= "" and (src .. "lua/?.lua;" .. src .. "lua/?/init.lua;") or "")
  .. package.path

local H = {}

local function fmt(v)
  if type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = fmt(v[i]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end
H.fmt = fmt

-- Raises a failure at the caller of the helper that called fail.
local function fail(msg) error(msg, 3) end

local function is_tensor(x)
  local ok, dagl = pcall(require, "dagl")
  return ok and dagl.is_tensor(x)
end

-- Compares nested tables of numbers; returns nil or a description of the first difference.
local function diff(got, want, tol, path)
  if type(want) == "table" then
    if type(got) ~= "table" then
      return ("at %s: expected a table of %d, got %s"):format(path, #want, fmt(got))
    end
    if #got ~= #want then
      return ("at %s: expected %d entries, got %d (%s vs %s)"):format(path, #want, #got, fmt(got), fmt(want))
    end
    for i = 1, #want do
      local d = diff(got[i], want[i], tol, path .. "[" .. i .. "]")
      if d then return d end
    end
    return nil
  end
  if type(got) ~= "number" then
    return ("at %s: expected the number %s, got %s"):format(path, tostring(want), fmt(got))
  end
  if want ~= want then -- NaN
    if got ~= got then return nil end
    return ("at %s: expected nan, got %s"):format(path, tostring(got))
  end
  if want == math.huge or want == -math.huge then
    if got == want then return nil end
    return ("at %s: expected %s, got %s"):format(path, tostring(want), tostring(got))
  end
  local scale = math.max(1, math.abs(want))
  if not (math.abs(got - want) <= tol * scale) then
    return ("at %s: expected %.9g, got %.9g (tolerance %g)"):format(path, want, got, tol)
  end
  return nil
end

--- assert_close(t, expected, tol, msg): t (a tensor, a nested table or a number) equals
-- `expected` (nested tables of numbers, or a number for a 0-d tensor) within a relative
-- tolerance `tol` (default 1e-5; scaled by max(1, |expected|)). Shapes must match exactly.
function H.assert_close(t, expected, tol, msg)
  tol = tol or 1e-5
  local got = t
  if is_tensor(t) then got = t:totable() end
  local d = diff(got, expected, tol, "t")
  if d then fail((msg and (msg .. ": ") or "") .. d .. "\n  got:      " .. fmt(got) .. "\n  expected: " .. fmt(expected)) end
end

--- assert_equal_values(t, expected): exact equality (tolerance 0), e.g. for integer tensors.
function H.assert_equal_values(t, expected, msg)
  local got = is_tensor(t) and t:totable() or t
  local d = diff(got, expected, 0, "t")
  if d then fail((msg and (msg .. ": ") or "") .. d .. "\n  got:      " .. fmt(got) .. "\n  expected: " .. fmt(expected)) end
end

--- assert_shape(t, {2, 3}): t.shape equals the table.
function H.assert_shape(t, shape, msg)
  local s = t.shape
  local ok = #s == #shape
  for i = 1, #shape do ok = ok and s[i] == shape[i] end
  if not ok then fail((msg and (msg .. ": ") or "") .. "expected shape " .. fmt(shape) .. ", got " .. fmt(s)) end
end

--- assert_raises(fn, ...): fn() must raise; every following string must occur (plainly) in the
-- message. Returns the message.
function H.assert_raises(fn, ...)
  local ok, err = pcall(fn)
  if ok then fail("expected an error, but the call succeeded") end
  err = tostring(err)
  for i = 1, select("#", ...) do
    local s = select(i, ...)
    if not err:find(s, 1, true) then
      fail(("error message lacks %q:\n  %s"):format(s, err))
    end
  end
  return err
end

--- numeric_at(f, t, k, eps=1e-6): the central difference of the scalar f() in element k of the
-- tensor t (1-based, flat), which f reads; t is restored after.
function H.numeric_at(f, t, k, eps)
  local flat = t:view(-1)
  eps = eps or 1e-6
  local v = flat[k]
  flat[k] = v + eps
  local up = f():item()
  flat[k] = v - eps
  local down = f():item()
  flat[k] = v
  return (up - down) / (2 * eps)
end

--- numeric_grad(f, x): central differences (float64) of the scalar f() with respect to each
-- element of the tensor x that f reads, as a tensor of x's shape (finite-difference checks).
function H.numeric_grad(f, x)
  local g = require("dagl").zeros(x.shape, "float64")
  local gflat = g:view(-1)
  for k = 1, x:numel() do gflat[k] = H.numeric_at(f, x, k) end
  return g
end

--- read_file(path): the whole file as a string (binary).
function H.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

--- dagl_bin(): the dagl host the specs that start one run: $DAGL_BIN, else the interpreter running
-- busted when that is a dagl host (ctest runs busted under build/dagl), else build/dagl.
function H.dagl_bin()
  local bin = os.getenv("DAGL_BIN")
  if not bin and type(arg) == "table" and arg[-1] and arg[-1]:match("[^/]*$") == "dagl" then bin = arg[-1] end
  return bin or "build/dagl"
end

--- shell_quote(s): s quoted for sh, as one word.
function H.shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- write_temp(text, ext?): a new temporary file holding text; its name ends in ext when given
-- (".lua": error messages then name "<file>.lua:N"). Returns the path.
function H.write_temp(text, ext)
  local path = os.tmpname()
  if ext then
    os.remove(path)
    path = path .. ext
  end
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

--- Flattens a nested table (row-major).
function H.flat(t, out)
  out = out or {}
  if type(t) ~= "table" then out[#out + 1] = t return out end
  for i = 1, #t do H.flat(t[i], out) end
  return out
end

for k, v in pairs(H) do _G[k] = v end
return H
