-- Files: safetensors, .npy, .npz and CSV round trips (every dtype, 0-d, empty, big), files
-- written by NumPy (spec/fixtures, made by make_numpy.py), and corrupt or truncated files, which
-- must give a Lua error naming the file -- never a crash -- with the next call working.
local dagl = require "dagl"

local F = "spec/fixtures/"
-- the assertion helpers spec/helper.lua defines as globals
local H = {flat = flat, assert_raises = assert_raises, assert_equal_values = assert_equal_values,
           assert_close = assert_close, shell_quote = shell_quote}

local tmpbase = os.tmpname()
os.remove(tmpbase)
local tmpfiles = {}
local function tmp(suffix)
  local p = tmpbase .. "_" .. (#tmpfiles + 1) .. suffix
  tmpfiles[#tmpfiles + 1] = p
  return p
end

local function write_bytes(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Exact equality of dtype, shape and every value (NaN equal to NaN).
local function assert_same_tensor(a, b, what)
  assert.equal(a:dtype(), b:dtype(), what)
  assert.same(a.shape, b.shape, what)
  local fa, fb = H.flat(a:totable()), H.flat(b:totable())
  for i = 1, #fa do
    if not (fa[i] == fb[i] or (fa[i] ~= fa[i] and fb[i] ~= fb[i])) then
      error(("%s: element %d differs: %s vs %s"):format(what or "tensor", i, tostring(fa[i]), tostring(fb[i])))
    end
  end
end

local function sample_tensors()
  return {
    f32 = dagl.tensor{{1.5, -2, 0}, {0 / 0, math.huge, -math.huge}},
    f64 = dagl.tensor({1 / 3, -1e300, 5e-324}, "float64"),
    i64 = dagl.tensor({math.mininteger, -1, math.maxinteger}, "int64"),
    u8 = dagl.tensor({{0, 7, 255}, {128, 1, 2}}, "uint8"),
    u8_strided = dagl.arange(0, 12, 1, "uint8"):reshape(3, 4):t(),
    scalar = dagl.full({}, 7.25),
    empty = dagl.zeros(0, 3),
    strided = dagl.arange(0, 12):reshape(3, 4):t(), -- a non-contiguous view
  }
end

after_each(function() collectgarbage() end)
teardown(function() for _, p in ipairs(tmpfiles) do os.remove(p) os.remove(p .. ".tmp") end end)

describe("safetensors", function()
  it("round-trips every dtype, 0-d, empty and non-contiguous tensors with metadata", function()
    local p = tmp(".safetensors")
    local src = sample_tensors()
    dagl.save_safetensors(p, src, {framework = "dagl", ["quote\"key"] = "line\nbreak", n = 3})
    assert.is_false(exists(p .. ".tmp"))
    local got, meta = dagl.load_safetensors(p)
    for k, v in pairs(src) do assert_same_tensor(got[k], v:contiguous(), k) end
    local n = 0
    for _ in pairs(got) do n = n + 1 end
    assert.equal(8, n)
    assert.same({framework = "dagl", ["quote\"key"] = "line\nbreak", n = "3"}, meta)
  end)

  it("writes sorted keys, contiguous offsets and a header padded to 8 bytes", function()
    local p = tmp(".safetensors")
    dagl.save_safetensors(p, {b = dagl.ones(3), a = dagl.zeros(2, 2, "int64")})
    local s = read_file(p)
    local hlen = string.unpack("<I8", s)
    assert.equal(0, (8 + hlen) % 8)
    local header = s:sub(9, 8 + hlen)
    assert.matches("^%b{} *$", header)
    assert.is_true(header:find('"a"', 1, true) < header:find('"b"', 1, true))
    assert.truthy(header:find('"a":{"dtype":"I64","shape":[2,2],"data_offsets":[0,32]}', 1, true))
    assert.truthy(header:find('"b":{"dtype":"F32","shape":[3],"data_offsets":[32,44]}', 1, true))
    assert.equal(8 + hlen + 44, #s)
    -- metadata keys are sorted too: the same contents always give the same bytes
    local m1, m2 = {}, {}
    for i = 1, 30 do m1["k" .. i] = tostring(i) end
    for i = 30, 1, -1 do m2["k" .. i] = tostring(i) end
    local p2 = tmp(".safetensors")
    dagl.save_safetensors(p, {x = dagl.ones(1)}, m1)
    dagl.save_safetensors(p2, {x = dagl.ones(1)}, m2)
    local s1 = read_file(p)
    assert.equal(s1, read_file(p2))
    assert.truthy(s1:find('"k1":"1","k10":"10","k11"', 1, true))
  end)

  it("round-trips a big tensor", function()
    local p = tmp(".safetensors")
    dagl.manual_seed(5)
    local big = dagl.randn(600, 500)
    dagl.save_safetensors(p, {big = big})
    local got = dagl.load_safetensors(p).big
    assert.same({600, 500}, got.shape)
    assert.equal(0, (got - big):abs():max():item())
  end)

  it("reads a file laid out like the reference implementation's, converting nothing", function()
    local t, meta = dagl.load_safetensors(F .. "st_reference.safetensors")
    H.assert_equal_values(t.zeta, {{1, -2}, {3.5, 4}})
    assert.equal("float32", t.zeta:dtype())
    H.assert_equal_values(t.alpha, {10, -20, 30})
    assert.equal("int64", t.alpha:dtype())
    assert.equal(2.5, t.mid:item())
    assert.same({}, t.mid.shape)
    assert.same({format = "pt", note = "made by numpy"}, meta)
  end)

  it("rejects bad arguments and unwritable paths, naming them", function()
    H.assert_raises(function() dagl.save_safetensors(tmp(".st"), {x = 1}) end, "'x' is not a tensor")
    H.assert_raises(function() dagl.save_safetensors(tmp(".st"), {__metadata__ = dagl.ones(1)}) end, "invalid name")
    H.assert_raises(function() dagl.save_safetensors("/nonexistent-dir/w.safetensors", {x = dagl.ones(1)}) end,
      "/nonexistent-dir/w.safetensors.tmp")
    H.assert_raises(function() dagl.load_safetensors("/nonexistent-dir/w.safetensors") end,
      "cannot open '/nonexistent-dir/w.safetensors'")
  end)
end)

-- A safetensors file from a header text and data bytes.
local function st_file(header, data)
  local p = tmp(".safetensors")
  write_bytes(p, string.pack("<I8", #header) .. header .. (data or ""))
  return p
end

describe("corrupt safetensors", function()
  local cases = {
    {"header length past the end", string.pack("<I8", 1 << 62) .. "{}", "exceeds"},
    {"short file", "abc", "too short"},
  }
  for _, c in ipairs(cases) do
    it("reports a " .. c[1], function()
      local p = tmp(".safetensors")
      write_bytes(p, c[2])
      H.assert_raises(function() dagl.load_safetensors(p) end, p, c[3])
    end)
  end

  local bad_headers = {
    {'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}', "entry 'x'", "lie outside the data"},
    {'{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', "entry 'x'", "hold 8 bytes but F32 [3] needs 12"},
    {'{"x":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,8]}}', "entry 'x'", "too large"},
    {'{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}', "entry 'x'", "shape entry 1"},
    {'{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', "entry 'x'", "data_offsets [8, 0]"},
    {'{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', "entry 'x'", 'dtype "F16" is not supported'},
    {'{"x":{"shape":[2],"data_offsets":[0,8]}}', "entry 'x'", '"dtype" missing'},
    {'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', "entry 'x'", "data_offsets"},
    {'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":{}}', "bad JSON header", "duplicate object key"},
    {'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],}}', "bad JSON header", "at byte"},
    {'{"__metadata__":{"a":1}}', "__metadata__ entry 'a' is not a string"},
    {'[1,2]', "not a JSON object"},
    {string.rep("[", 5000) .. string.rep("]", 5000), "nesting too deep"},
    {'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} trailing', "after the JSON value"},
  }
  for i, c in ipairs(bad_headers) do
    it("reports bad header " .. i .. " naming the file and the entry", function()
      local p = st_file(c[1], string.rep("\0", 8))
      H.assert_raises(function() dagl.load_safetensors(p) end, p, table.unpack(c, 2))
    end)
  end

  it("fails cleanly at every truncation and on flipped header bytes, and then still works", function()
    local p = tmp(".safetensors")
    dagl.save_safetensors(p, {w = dagl.tensor{{1, 2}, {3, 4}}, b = dagl.tensor({5, 6}, "int64")}, {k = "v"})
    local good = read_file(p)
    local q = tmp(".safetensors")
    for cut = 0, #good - 1 do
      write_bytes(q, good:sub(1, cut))
      H.assert_raises(function() dagl.load_safetensors(q) end, q)
    end
    local hlen = string.unpack("<I8", good)
    local loaded, failed = 0, 0
    for pos = 1, 8 + hlen do
      for _, byte in ipairs {0, 0x22, 0x7B, 0x39, 0xFF} do
        write_bytes(q, good:sub(1, pos - 1) .. string.char(byte) .. good:sub(pos + 1))
        local ok, err = pcall(dagl.load_safetensors, q)
        if ok then loaded = loaded + 1 else
          failed = failed + 1
          assert.truthy(tostring(err):find(q, 1, true), tostring(err))
        end
      end
    end
    assert.is_true(failed > 5 * (8 + hlen) / 2, "most corruptions are noticed")
    assert.same({{1, 2}, {3, 4}}, dagl.load_safetensors(p).w:totable())
  end)
end)

describe(".npy", function()
  it("round-trips every dtype, 0-d, empty and non-contiguous tensors", function()
    for k, v in pairs(sample_tensors()) do
      local p = tmp(".npy")
      dagl.save_npy(p, v)
      assert.is_false(exists(p .. ".tmp"))
      assert_same_tensor(dagl.load_npy(p), v:contiguous(), k)
      local s = read_file(p)
      assert.equal("\x93NUMPY\1\0", s:sub(1, 8))
      assert.equal(0, (10 + string.unpack("<I2", s, 9)) % 64, k .. ": header aligned to 64")
    end
  end)

  it("reads arrays written by NumPy, uint8 as uint8, converting int32 and bool to int64", function()
    H.assert_equal_values(dagl.load_npy(F .. "np_f32.npy"), {{-1, -0.5, 0}, {0.5, 1, 1.5}})
    local s = dagl.load_npy(F .. "np_f64_scalar.npy")
    assert.same({}, s.shape)
    assert.equal(3.25, s:item())
    H.assert_equal_values(dagl.load_npy(F .. "np_i8.npy"), {-3, 0, 1 << 40})
    local i4 = dagl.load_npy(F .. "np_i4.npy")
    assert.equal("int64", i4:dtype())
    H.assert_equal_values(i4, {{-7, 8}, {9, 2147483647}})
    local u1 = dagl.load_npy(F .. "np_u1.npy")
    assert.equal("uint8", u1:dtype())
    H.assert_equal_values(u1, {0, 200, 255})
    H.assert_equal_values(dagl.load_npy(F .. "np_b1.npy"), {1, 0, 1})
    assert.same({0, 3}, dagl.load_npy(F .. "np_empty.npy").shape)
    -- found by fuzz_npy: an empty array whose other dims' product overflows int64 (the strides
    -- overflowed, undefined behaviour caught by UBSan); it is an empty tensor
    local odd = dagl.load_npy(F .. "fuzz_npy_empty_huge_dims.npy")
    assert.equal(0, odd:numel())
    assert.same({8, 5, 73709551615, 0, 0, 0, 20000000}, odd.shape)
    H.assert_equal_values(dagl.load_npy(F .. "np_v2.npy"), {{0, 1}, {2, 3}})
  end)

  it("explains what it does not support", function()
    H.assert_raises(function() dagl.load_npy(F .. "np_fortran.npy") end, "np_fortran.npy", "fortran_order is True")
    H.assert_raises(function() dagl.load_npy(F .. "np_f2.npy") end, "np_f2.npy", "dtype '<f2' is not supported")
  end)

  it("fails cleanly at every truncation and on flipped header bytes, and then still works", function()
    local good = read_file(F .. "np_i4.npy")
    local q = tmp(".npy")
    for cut = 0, #good - 1 do
      write_bytes(q, good:sub(1, cut))
      H.assert_raises(function() dagl.load_npy(q) end, q)
    end
    for pos = 1, 128 do
      for _, byte in ipairs {0, 0x27, 0x28, 0x39, 0xFF} do
        write_bytes(q, good:sub(1, pos - 1) .. string.char(byte) .. good:sub(pos + 1))
        local ok, err = pcall(dagl.load_npy, q)
        if not ok then assert.truthy(tostring(err):find(q, 1, true), tostring(err)) end
      end
    end
    -- a shape whose byte count overflows
    local h = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }"
    write_bytes(q, "\x93NUMPY\1\0" .. string.pack("<I2", #h) .. h)
    H.assert_raises(function() dagl.load_npy(q) end, q, "too large")
    -- a plausible shape with the data missing fails before anything that size is allocated
    h = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }"
    write_bytes(q, "\x93NUMPY\1\0" .. string.pack("<I2", #h) .. h .. "12345678")
    local before = dagl.live_bytes()
    H.assert_raises(function() dagl.load_npy(q) end, q, "truncated data", "which needs 800000000000")
    assert.equal(before, dagl.live_bytes())
    H.assert_raises(function() dagl.load_npy("spec/fixtures") end, "'spec/fixtures' is not a regular file")
    H.assert_equal_values(dagl.load_npy(F .. "np_i4.npy"), {{-7, 8}, {9, 2147483647}})
  end)
end)

describe(".npz", function()
  it("reads an archive written by np.savez", function()
    local z = dagl.load_npz(F .. "np_archive.npz")
    H.assert_equal_values(z.w, {{0, 1}, {2, 3}})
    assert.equal("float32", z.w:dtype())
    H.assert_equal_values(z.b, {1.5, -2})
    assert.equal("float64", z.b:dtype())
    H.assert_equal_values(z.n, {7, 8, 9})
    -- zip64 central directory and end records (as archives over 4 GB have)
    H.assert_equal_values(dagl.load_npz(F .. "np_zip64.npz").big, {{1, 2}, {3, 4}})
  end)

  it("reads archives written by np.savez_compressed (deflated entries, inflated by zlib)", function()
    H.assert_equal_values(dagl.load_npz(F .. "np_compressed.npz").w, {0, 1, 2, 3})
    local z = dagl.load_npz(F .. "np_compressed_mixed.npz")
    assert.equal("float32", z.f:dtype())
    H.assert_close(z.f, {{-1, -0.6, -0.2}, {0.2, 0.6, 1}}, 1e-7)
    assert.equal("int64", z.i:dtype())
    H.assert_equal_values(z.i, {-5, 0, 1 << 40})
    assert.equal("uint8", z.u:dtype())
    H.assert_equal_values(z.u, {{0, 17}, {128, 255}})
    assert.equal(2.5, z.s:item())
    H.assert_equal_values(z.b, {1, 0})
    assert.same({0, 4}, z.e.shape)
    assert.equal(0, z.z:abs():sum():item())
    assert.same({3000}, z.z.shape)
  end)

  -- A zip archive (one entry of method 8) around a raw deflate stream: gzip's, without its
  -- 10-byte header and 8-byte trailer (CRC-32 and size, which the zip records carry instead).
  local function deflated_npz(path, npy_path)
    local q = H.shell_quote
    local h = assert(io.popen("gzip -n -c " .. q(npy_path)))
    local gz = h:read("a")
    h:close()
    local raw, crc, usize = gz:sub(11, -9), string.unpack("<I4I4", gz, #gz - 7)
    local name = "big.npy"
    local lh = string.pack("<I4I2I2I2I2I2I4I4I4I2I2", 0x04034b50, 20, 0, 8, 0, 0, crc, #raw, usize, #name, 0)
    local cd = string.pack("<I4I2I2I2I2I2I2I4I4I4I2I2I2I2I2I4I4", 0x02014b50, 20, 20, 0, 8, 0, 0, crc, #raw,
      usize, #name, 0, 0, 0, 0, 0, 0) .. name
    local body = lh .. name .. raw
    write_bytes(path, body .. cd .. string.pack("<I4I2I2I2I2I4I4I2", 0x06054b50, 0, 0, 1, 1, #cd, #body, 0))
    return raw
  end

  it("inflates a big entry straight into its tensor, chunk after chunk", function()
    local npy, p = tmp(".npy"), tmp(".npz")
    dagl.manual_seed(11)
    local big = dagl.randn(1000, 300) -- 1.2 MB of noise: several reads of compressed input
    dagl.save_npy(npy, big)
    deflated_npz(p, npy)
    local got = dagl.load_npz(p).big
    assert.same({1000, 300}, got.shape)
    assert.equal(0, (got - big):abs():max():item())
  end)

  it("refuses other compression methods, naming the method and the two it takes", function()
    local good = read_file(F .. "np_archive.npz")
    local at = good:find("PK\1\2", 1, true) -- the first central directory entry
    local q = tmp(".npz")
    write_bytes(q, good:sub(1, at + 9) .. string.pack("<I2", 12) .. good:sub(at + 12)) -- bzip2
    H.assert_raises(function() dagl.load_npz(q) end, q, "compression method 12 not supported",
      "np.savez_compressed")
  end)

  it("fails cleanly at every truncation and on flipped bytes, and then still works", function()
    local q = tmp(".npz")
    for _, name in ipairs {"np_archive.npz", "np_zip64.npz", "np_compressed_mixed.npz"} do
      local good = read_file(F .. name)
      for cut = 0, #good - 1 do
        write_bytes(q, good:sub(1, cut))
        H.assert_raises(function() dagl.load_npz(q) end, q)
      end
      for pos = 1, #good do
        write_bytes(q, good:sub(1, pos - 1) .. string.char(good:byte(pos) ~ 0x5A) .. good:sub(pos + 1))
        local ok, err = pcall(dagl.load_npz, q)
        if not ok then assert.truthy(tostring(err):find(q, 1, true), tostring(err)) end
      end
    end
    assert.equal(3, #dagl.load_npz(F .. "np_archive.npz").n)
  end)
end)

describe("read_csv", function()
  it("reads numbers with a header, another delimiter and blank lines", function()
    local p = tmp(".csv")
    write_bytes(p, "a; b ;c\r\n\n1;2.5;-3\r\n  \n4; 5e2 ;6\n")
    local t, names = dagl.read_csv(p, {delimiter = ";", header = true})
    assert.equal("float32", t:dtype())
    H.assert_equal_values(t, {{1, 2.5, -3}, {4, 500, 6}})
    assert.same({"a", "b", "c"}, names)
    local q = tmp(".csv")
    write_bytes(q, "1,2\n3,4")
    local u, none = dagl.read_csv(q)
    H.assert_equal_values(u, {{1, 2}, {3, 4}})
    assert.is_nil(none)
  end)

  it("names the line and column of a field that is not a number, and ragged rows", function()
    local p = tmp(".csv")
    write_bytes(p, "x,y\n1,2\n\n3,abc\n")
    H.assert_raises(function() dagl.read_csv(p, {header = true}) end, p, "line 4, column 2", "'abc' is not a number")
    write_bytes(p, "1,2\n3,\n")
    H.assert_raises(function() dagl.read_csv(p) end, "line 2, column 2")
    write_bytes(p, "1,2\n3,4,5\n")
    H.assert_raises(function() dagl.read_csv(p) end, "line 2 has 3 columns, expected 2")
    H.assert_raises(function() dagl.read_csv(p, {delimiter = ";;"}) end, "one character")
    write_bytes(p, "1," .. string.rep("9", 80) .. "\n")
    H.assert_raises(function() dagl.read_csv(p) end, "line 1, column 2: a field of 80 characters is too long")
  end)
end)

describe("gather_rows_async", function()
  it("copies rows by index, checks indices first and leaks nothing", function()
    local x = dagl.arange(0, 12):reshape(4, 3)
    collectgarbage()
    local base = dagl.live_bytes()
    H.assert_equal_values(dagl.gather_rows_async(x, {4, 1, 4}):wait(), {{9, 10, 11}, {0, 1, 2}, {9, 10, 11}})
    H.assert_equal_values(dagl.gather_rows_async(x:t(), {2}, 1, 1):wait(), {{1, 4, 7, 10}})
    assert.same({0, 3}, dagl.gather_rows_async(x, {}):wait().shape)
    H.assert_raises(function() dagl.gather_rows_async(x, {1, 5}) end, "index 5 (entry 2) out of range for shape [4, 3]")
    local h = dagl.gather_rows_async(x, {1, 2})
    h:wait()
    H.assert_raises(function() h:wait() end, "wait() called twice")
    for _ = 1, 20 do dagl.gather_rows_async(x, {1, 2, 3}) end -- never waited for
    collectgarbage()
    collectgarbage()
    assert.equal(base, dagl.live_bytes())
  end)
end)

describe("dagl.data", function()
  local x = dagl.arange(0, 20):reshape(10, 2)
  local y = dagl.arange(0, 10, 1, "int64")

  local function collect(opts, yy)
    local xs, ys = {}, {}
    for xb, yb in dagl.data.batches(x, yy == nil and y or yy or nil, opts) do
      xs[#xs + 1] = xb:totable()
      ys[#ys + 1] = yb and (dagl.is_tensor(yb) and yb:totable() or yb)
    end
    return xs, ys
  end

  it("visits every row once in batches, with labels kept to their rows", function()
    local xs, ys = collect{batch_size = 4, seed = 7}
    assert.same({4, 4, 2}, {#xs[1], #xs[2], #xs[3]})
    local seen = {}
    for b = 1, #xs do
      for i, row in ipairs(xs[b]) do
        assert.equal(row[1], 2 * ys[b][i])
        seen[ys[b][i]] = (seen[ys[b][i]] or 0) + 1
      end
    end
    for i = 0, 9 do assert.equal(1, seen[i]) end
  end)

  it("shuffles reproducibly by seed, and prefetching changes nothing", function()
    local a = collect{batch_size = 3, seed = 11}
    assert.same(a, (collect{batch_size = 3, seed = 11}))
    assert.same(a, (collect{batch_size = 3, seed = 11, prefetch = false}))
    assert.are_not.same(a, (collect{batch_size = 3, seed = 12}))
    local plain = collect{batch_size = 3, shuffle = false}
    assert.same({{0, 1}, {2, 3}, {4, 5}}, plain[1])
  end)

  it("drops the last partial batch when asked, and takes y as a table or nothing", function()
    local xs = collect({batch_size = 4, drop_last = true, shuffle = false}, false)
    assert.equal(2, #xs)
    local labels = {}
    for i = 1, 10 do labels[i] = "r" .. i end
    local _, ys = collect({batch_size = 4, shuffle = false}, labels)
    assert.same({"r9", "r10"}, ys[3])
    H.assert_raises(function() dagl.data.batches(x, dagl.zeros(3)) end, "x has 10 rows but y has 3")
    H.assert_raises(function() dagl.data.batches(x, nil, {batch_size = 0}) end, "batch_size")
  end)

  it("leaks no pending batch on break or error", function()
    collectgarbage()
    collectgarbage()
    local base = dagl.live_bytes()
    for _ = 1, 5 do
      for xb in dagl.data.batches(x, y, {batch_size = 2, seed = 1}) do
        if xb then break end
      end
      pcall(function()
        for _ in dagl.data.batches(x, y, {batch_size = 2, seed = 1}) do error("boom") end
      end)
      local it = dagl.data.batches(x, y, {batch_size = 2}) -- abandoned mid-way, outside a for
      it()
    end
    collectgarbage()
    collectgarbage()
    assert.equal(base, dagl.live_bytes())
  end)

  it("reads a CSV dataset with the label column by name or index", function()
    local p = tmp(".csv")
    write_bytes(p, "f1,label,f2\n0.5,1,2\n1.5,0,3\n2.5,2,4\n")
    local xs, ys, names = dagl.data.read_csv_dataset(p, {header = true, label_column = "label"})
    H.assert_equal_values(xs, {{0.5, 2}, {1.5, 3}, {2.5, 4}})
    assert.equal("int64", ys:dtype())
    H.assert_equal_values(ys, {1, 0, 2})
    assert.same({"f1", "f2"}, names)
    local x2, y2 = dagl.data.read_csv_dataset(p, {header = true}) -- last column by default
    H.assert_equal_values(y2, {2, 3, 4})
    assert.same({3, 2}, x2.shape)
    H.assert_raises(function() dagl.data.read_csv_dataset(p, {header = true, label_column = "nope"}) end,
      "no column named 'nope'", "f1, label, f2")
    H.assert_raises(function() dagl.data.read_csv_dataset(p, {header = true, label_column = 1}) end,
      "non-integer labels")
    -- gzip-compressed files are gunzipped through zlib (told by the magic bytes, not the name)
    assert.is_true(os.execute("gzip -kf '" .. p .. "'"))
    local gz = p .. ".gz"
    tmpfiles[#tmpfiles + 1] = gz
    local xg, yg = dagl.data.read_csv_dataset(gz, {header = true, label_column = 2})
    H.assert_equal_values(xg, {{0.5, 2}, {1.5, 3}, {2.5, 4}})
    H.assert_equal_values(yg, {1, 0, 2})
    local tg = dagl.read_csv(gz, {header = true}) -- the C reader itself
    H.assert_equal_values(tg, {{0.5, 1, 2}, {1.5, 0, 3}, {2.5, 2, 4}})
    local h = assert(io.open(gz, "rb"))
    local bytes = h:read("a")
    h:close()
    -- two gzip members, as `cat a.gz b.gz` makes, read as one stream (as gzip -dc does)
    local num = p .. ".num"
    tmpfiles[#tmpfiles + 1], tmpfiles[#tmpfiles + 2] = num, num .. ".gz"
    write_bytes(num, "1,2\n3,4\n")
    assert.is_true(os.execute("gzip -kf '" .. num .. "'"))
    local h2 = assert(io.open(num .. ".gz", "rb"))
    local member = h2:read("a")
    h2:close()
    write_bytes(gz, member .. member)
    H.assert_equal_values(dagl.data.read_csv(gz), {{1, 2}, {3, 4}, {1, 2}, {3, 4}})
    -- cut short, or a byte of the checksum flipped: clear errors naming the file
    write_bytes(gz, bytes:sub(1, #bytes - 6))
    H.assert_raises(function() dagl.data.read_csv(gz) end, gz, "truncated: the gzip stream ends without its trailer")
    local at = #bytes - 6 -- in the CRC-32 of the trailer
    write_bytes(gz, bytes:sub(1, at - 1) .. string.char(bytes:byte(at) ~ 0xff) .. bytes:sub(at + 1))
    H.assert_raises(function() dagl.data.read_csv(gz) end, gz, "corrupt gzip data")
    -- a name ending in .gz over plain text is read as plain text
    write_bytes(gz, "1,x\n")
    H.assert_raises(function() dagl.data.read_csv(gz) end, gz, "'x' is not a number")
  end)
end)
