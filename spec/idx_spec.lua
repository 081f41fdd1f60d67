-- idx_spec.lua -- dagl.data.read_idx on IDX files this spec writes (plain, and gzipped by the
-- gzip tool), every IDX type, the errors of truncated and corrupt files, and
-- dagl.data.fashion_mnist (Keras's load_data) on a folder of such files; Debian's real
-- Fashion-MNIST is read too when it is installed (tests never need it).
local dagl = require "dagl"

local tmpfiles = {}
local function tmp(suffix)
  local p = os.tmpname()
  os.remove(p)
  p = p .. (suffix or "")
  tmpfiles[#tmpfiles + 1] = p
  return p
end
teardown(function() for _, p in ipairs(tmpfiles) do os.execute("rm -rf " .. shell_quote(p)) end end)

local function write(path, s)
  local h = assert(io.open(path, "wb"))
  h:write(s)
  h:close()
end
local function gzip(path) assert(os.execute("gzip -n -f " .. shell_quote(path))) return path .. ".gz" end

-- An IDX image: magic (type, ndim), big-endian dims, then the data bytes.
local function idx(type, dims, data)
  return string.pack(">I2BB", 0, type, #dims) .. string.pack(">" .. string.rep("I4", #dims), table.unpack(dims))
    .. data
end
local function bytes(n, f) local t = {} for i = 1, n do t[i] = string.char(f(i)) end return table.concat(t) end

describe("dagl.data.read_idx", function()
  it("reads unsigned bytes as uint8 with the file's dims, plain and gzipped alike", function()
    local img = bytes(2 * 3 * 4, function(i) return (i * 37) % 256 end)
    local p = tmp(".idx3")
    write(p, idx(0x08, {2, 3, 4}, img))
    local plain = dagl.data.read_idx(p)
    assert.are.equal("uint8", plain:dtype())
    assert.are.same({2, 3, 4}, plain.shape)
    assert.are.equal(img:byte(24), plain[2][3][4])
    assert.are.equal(img:byte(1), plain[1][1][1])
    local gz = dagl.data.read_idx(gzip(p)) -- told by the gzip magic, not the name
    assert.are.equal("uint8", gz:dtype())
    assert.are.equal(0, (gz:long() - plain:long()):abs():max():item())
  end)

  it("widens int8/16/32 to int64 and keeps float32/float64, all big-endian in the file", function()
    local cases = {
      {0x09, string.pack(">i1i1", -1, 5), "int64", {-1, 5}},
      {0x0B, string.pack(">i2i2", -2, 256), "int64", {-2, 256}},
      {0x0C, string.pack(">i4i4", -2147483648, 258), "int64", {-2147483648, 258}},
      {0x0D, string.pack(">ff", 1.5, -10), "float32", {1.5, -10}},
      {0x0E, string.pack(">dd", math.pi, 0.25), "float64", {math.pi, 0.25}},
    }
    for _, c in ipairs(cases) do
      local p = tmp()
      write(p, idx(c[1], {2}, c[2]))
      local t = dagl.data.read_idx(p)
      assert.are.equal(c[3], t:dtype())
      assert_equal_values(t, c[4])
    end
  end)

  it("names the file and what is wrong: magic, type, dims against size, stray bytes, corrupt gzip", function()
    local good = idx(0x08, {2, 28, 28}, bytes(1568, function(i) return i % 7 end))
    local p = tmp()
    local function fails(content, ...)
      write(p, content)
      local before = dagl.live_bytes()
      assert_raises(function() return dagl.data.read_idx(p) end, "read_idx '" .. p .. "'", ...)
      assert.are.equal(before, dagl.live_bytes())
    end
    fails(good:sub(1, 100), "truncated data: 84 bytes for shape [2, 28, 28], which needs 1568")
    fails(good .. "xyz", "3 more bytes follow the data of shape [2, 28, 28]")
    fails(idx(0x08, {60000, 28, 28}, "abc"), "which needs 47040000") -- never allocated
    fails("\1\0\8\3" .. good:sub(5), "not an IDX file")
    fails("\0\0\7\3" .. good:sub(5), "type byte 0x07 is not an IDX type")
    fails("\0\0\8\0" .. good:sub(5), "0 dimensions")
    fails("\0\0", "past the end of the file")
    for cut = 0, #good - 1, 97 do -- every cut raises, none crashes
      write(p, good:sub(1, cut))
      assert_raises(function() return dagl.data.read_idx(p) end, p)
    end
    local q = tmp()
    write(q, good)
    local g = gzip(q)
    local h = assert(io.open(g, "rb"))
    local z = h:read("a")
    h:close()
    write(p, z:sub(1, #z - 20))
    assert_raises(function() return dagl.data.read_idx(p) end, p, "truncated")
    write(p, z:sub(1, #z - 8) .. string.char(z:byte(#z - 7) ~ 0xFF) .. z:sub(#z - 6))
    assert_raises(function() return dagl.data.read_idx(p) end, p, "corrupt gzip data")
    assert_raises(function() return dagl.data.read_idx(p, {}) end, "dagl.data.read_idx: takes (path)")
    assert_raises(function() return dagl.data.read_idx(3) end, "dagl.data.read_idx: path must be a string")
    assert_raises(function() return dagl.data.read_idx(p .. ".missing") end, "cannot open")
  end)
end)

describe("dagl.data.fashion_mnist", function()
  -- The four files in a folder, n training and m test images of h x w pixels (gzipped or not).
  local function folder(n, m, h, w, gz)
    local dir = tmp(".d")
    assert(os.execute("mkdir -p " .. shell_quote(dir)))
    local function put(name, content)
      write(dir .. "/" .. name, content)
      if gz then gzip(dir .. "/" .. name) end
    end
    put("train-images-idx3-ubyte", idx(0x08, {n, h, w}, bytes(n * h * w, function(i) return i % 256 end)))
    put("train-labels-idx1-ubyte", idx(0x08, {n}, bytes(n, function(i) return i % 10 end)))
    put("t10k-images-idx3-ubyte", idx(0x08, {m, h, w}, bytes(m * h * w, function(i) return 255 - i % 256 end)))
    put("t10k-labels-idx1-ubyte", idx(0x08, {m}, bytes(m, function(i) return (i + 3) % 10 end)))
    return dir
  end

  it("gives Keras's load_data: uint8 images (n, 28, 28) and uint8 labels, train then test", function()
    for _, gz in ipairs {true, false} do
      local x, y, xt, yt = dagl.data.fashion_mnist {dir = folder(5, 3, 28, 28, gz)}
      assert.are.same({5, 28, 28}, x.shape)
      assert.are.same({3, 28, 28}, xt.shape)
      assert.are.equal("uint8", x:dtype())
      assert.are.equal("uint8", y:dtype())
      assert_equal_values(y, {1, 2, 3, 4, 5})
      assert_equal_values(yt, {4, 5, 6})
      assert.are.equal(255 - 1, xt[1][1][1])
    end
  end)

  it("says where the files should be and which Debian package has them", function()
    assert_raises(function() return dagl.data.fashion_mnist {dir = tmp(".none")} end,
      "train-images-idx3-ubyte.gz' not found", "apt install dataset-fashion-mnist")
    local dir = folder(5, 3, 28, 28, true)
    os.remove(dir .. "/t10k-labels-idx1-ubyte.gz")
    assert_raises(function() return dagl.data.fashion_mnist {dir = dir} end, "t10k-labels-idx1-ubyte.gz' not found")
    dir = folder(5, 3, 28, 28, false)
    write(dir .. "/train-labels-idx1-ubyte", idx(0x08, {4}, "\1\2\3\4"))
    assert_raises(function() return dagl.data.fashion_mnist {dir = dir} end, "expected uint8 images (n, height, width) and n uint8 labels")
    assert_raises(function() return dagl.data.fashion_mnist {dri = dir} end, "unknown option 'dri'", "did you mean 'dir'")
  end)

  local real = io.open("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", "rb")
  if real then real:close() end
  ;(real and it or pending)("reads Debian's dataset-fashion-mnist when it is installed", function()
    local x, y, xt, yt = dagl.data.fashion_mnist()
    assert.are.same({60000, 28, 28}, x.shape)
    assert.are.same({10000, 28, 28}, xt.shape)
    assert.are.same({60000}, y.shape)
    assert.are.same({10000}, yt.shape)
    assert_equal_values(y:narrow(1, 1, 6), {9, 0, 0, 3, 0, 2}) -- Keras's y_train[:6]
    assert.are.equal(9, yt:long():max():item())
  end)
end)
