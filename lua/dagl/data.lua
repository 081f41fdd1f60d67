--- dagl.data: mini-batches over tensors (seeded, reproducible shuffling; the next batch's rows
-- gathered on a background thread while the caller trains on the current one), CSV datasets, IDX
-- files (MNIST's format) and Fashion-MNIST as Keras's load_data gives it.
local dagl = require "dagl"
local core = require "dagl.core"
local options = require "dagl.options"
local api = require "dagl.api_options"

local data = {}

--- A SplitMix64 stream of integers in 1..n: its own state, so shuffling neither depends on nor
-- disturbs math.random, and a seed gives the same order on every machine.
local function splitmix(seed)
  local s = seed
  return function(n)
    s = s + 0x9E3779B97F4A7C15
    local z = s
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    z = z ~ (z >> 31)
    return (z >> 1) % n + 1
  end
end

--- The row order 1..n, shuffled (Fisher-Yates) by the integer `seed` (nil: not shuffled).
function data.permutation(n, seed)
  local order = {}
  for i = 1, n do order[i] = i end
  if seed == nil then return order end
  if math.type(seed) ~= "integer" then error("dagl.data: seed must be an integer, got " .. tostring(seed), 2) end
  local rand = splitmix(seed)
  for i = n, 2, -1 do
    local k = rand(i)
    order[i], order[k] = order[k], order[i]
  end
  return order
end

local function rows_of(v, what)
  if dagl.is_tensor(v) then
    if v:dim() < 1 then error(("dagl.data.batches: %s is a 0-d tensor (it has no rows)"):format(what), 3) end
    return v.shape[1]
  end
  if type(v) == "table" then return #v end
  error(("dagl.data.batches: %s must be a tensor or a table, got %s"):format(what, type(v)), 3)
end

-- Starts gathering rows order[first..last] of v (a tensor: in the background; a Lua table: now).
local function start_gather(v, order, first, last)
  if dagl.is_tensor(v) then return dagl.gather_rows_async(v, order, first, last) end
  local out = {}
  for i = first, last do out[#out + 1] = v[order[i]] end
  return out
end

local function finish(h)
  if type(h) == "userdata" then return h:wait() end
  return h
end

local function close_pending(p)
  if p then
    if type(p.x) == "userdata" then p.x:close() end
    if type(p.y) == "userdata" then p.y:close() end
  end
end

local batches_options = options.declare {name = "dagl.data.batches", path = "dagl.data.batches",
  probe = function(o) return data.batches(dagl.zeros(4, 1), nil, o) end,
  {"batch_size", "integer", min = 1, default = 32, doc = "rows per batch (the last one may have fewer)"},
  {"shuffle", "boolean", default = true, doc = "a shuffled order (else the rows' order)"},
  {"seed", "integer", doc = "the order's seed (default: one drawn from math.random)"},
  {"drop_last", "boolean", default = false, aliases = {"drop_remainder"}, doc = "skip a last partial batch"},
  {"prefetch", "boolean", default = true, doc = "gather the next batch's rows on a background thread"},
}

--- dagl.data.batches(x, y, {batch_size=32, shuffle=true, seed=, drop_last=false, prefetch=true})
-- -> iterator over (xb, yb) (yb is nil without y; batches(x, {options}) also works). x and y are
-- tensors (rows along dim 1) or Lua tables of rows/labels. The order depends only on `seed`
-- (default: drawn from math.random, so math.randomseed makes runs repeat). With prefetch the
-- rows of batch k+1 are copied on a background thread before batch k is returned; do not write
-- into x or y while iterating. A generic `for` closes the iterator (its 4th value) on break or
-- error, and the pending batch is freed by the garbage collector otherwise, so nothing leaks.
function data.batches(x, y, opts, ...)
  api.at_most("dagl.data.batches", "(x, y, {options})", 3, 1, x, y, opts, ...)
  if opts == nil and type(y) == "table" and next(y) ~= nil and options.is_options(y) then
    y, opts = nil, y -- batches(x, {options}): a table with names holds no labels
  end
  opts = batches_options:check(opts, 1)
  local n = rows_of(x, "x")
  if y ~= nil then
    local ny = rows_of(y, "y")
    if ny ~= n then
      error(("dagl.data.batches: x has %d rows but y has %d"):format(n, ny), 2)
    end
  end
  local bs = opts.batch_size
  if dagl.is_tensor(x) then x = x:contiguous() end
  if dagl.is_tensor(y) then y = y:contiguous() end
  local seed = opts.seed or math.random(0, 0x7FFFFFFF)
  local order = data.permutation(n, opts.shuffle and seed or nil)
  local nb = opts.drop_last and n // bs or (n + bs - 1) // bs
  local prefetch = opts.prefetch

  local function start(k)
    local first, last = (k - 1) * bs + 1, math.min(k * bs, n)
    local p = {x = start_gather(x, order, first, last)}
    if y ~= nil then p.y = start_gather(y, order, first, last) end
    return p
  end

  local k, pending = 0, nil
  local state = setmetatable({}, {__close = function() close_pending(pending) pending = nil end})
  local function next_batch()
    k = k + 1
    if k > nb then return nil end
    local cur = pending or start(k)
    pending = nil
    if prefetch and k < nb then pending = start(k + 1) end
    local xb = finish(cur.x)
    local yb = y ~= nil and finish(cur.y) or nil
    return xb, yb
  end
  return next_batch, nil, nil, state
end

local read_csv_options = options.declare {name = "dagl.data.read_csv", path = "dagl.data.read_csv",
  probe = function(o) return api.with_file("1,2\n", function(p) return data.read_csv(p, o) end) end,
  table.unpack(api.csv_options)}

--- dagl.data.read_csv(path, {delimiter = ",", header = false}): dagl.read_csv, which reads
-- gzip-compressed files (told by gzip's magic bytes, e.g. ".csv.gz") through zlib in memory.
function data.read_csv(path, opts, ...)
  api.at_most("dagl.data.read_csv", "(path, {options})", 2, 1, path, opts, ...)
  api.check_path("dagl.data.read_csv", path, 1)
  return api.read_csv(path, read_csv_options:check(opts, 1))
end

-- A label column: a 1-based index (negative from the end) or a column name.
local function column(v)
  if (math.type(v) == "integer" and v ~= 0) or type(v) == "string" then return true end
  return false, "a column number (1-based; negative from the end) or, with a header, a column name"
end

local dataset_options = options.declare {name = "dagl.data.read_csv_dataset", path = "dagl.data.read_csv_dataset",
  probe = function(o) return api.with_file("1,2\n3,4\n", function(p) return data.read_csv_dataset(p, o) end) end,
  {"label_column", column, default = -1, doc = "the column holding the integer labels"},
  table.unpack(api.csv_options)}

--- dagl.data.read_csv_dataset(path, {label_column=-1, header=false, delimiter=","}) -> x (float32,
-- rows x features), y (int64 labels), feature names (with a header). label_column is a 1-based
-- index (negative counts from the end) or, with a header, a column name.
function data.read_csv_dataset(path, opts, ...)
  api.at_most("dagl.data.read_csv_dataset", "(path, {options})", 2, 1, path, opts, ...)
  api.check_path("dagl.data.read_csv_dataset", path, 1)
  opts = dataset_options:check(opts, 1)
  local t, names = api.read_csv(path, opts)
  local ncol = t.shape[2]
  local lc = opts.label_column
  if type(lc) == "string" then
    local found
    for i, nm in ipairs(names or {}) do if nm == lc then found = i end end
    if not found then
      error(("read_csv_dataset '%s': no column named '%s'%s"):format(path, lc,
        names and (" (columns: " .. table.concat(names, ", ") .. ")") or " (the file was read without a header)"), 2)
    end
    lc = found
  end
  if lc < 0 then lc = lc + ncol + 1 end
  if lc < 1 or lc > ncol then
    error(("read_csv_dataset '%s': label_column %s is out of range for %d columns"):format(path,
      tostring(opts.label_column), ncol), 2)
  end
  local yf = t:select(2, lc)
  local y = yf:long()
  if t.shape[1] > 0 and (yf:double() - y:double()):abs():max():item() ~= 0 then
    error(("read_csv_dataset '%s': column %d holds non-integer labels"):format(path, lc), 2)
  end
  local keep, feat = {}, {}
  for i = 1, ncol do
    if i ~= lc then
      keep[#keep + 1] = i
      if names then feat[#feat + 1] = names[i] end
    end
  end
  local x = dagl.gather_rows_async(t:t(), keep):wait():t():contiguous()
  return x, y, names and feat or nil
end

--- dagl.data.read_idx(path) -> tensor: an IDX file (MNIST's format), gzipped or not (told by the
-- gzip magic; gunzipped by zlib as it is read). Unsigned bytes (every MNIST file) give a uint8
-- tensor of the file's dims; int8, int16 and int32 give int64, float32 and float64 keep theirs.
-- Errors name the file and what is wrong (a bad magic number, data shorter than the dims, ...).
function data.read_idx(path, ...)
  api.at_most("dagl.data.read_idx", "(path)", 1, 1, path, ...)
  api.check_path("dagl.data.read_idx", path, 1)
  return api.at_user_line(core.read_idx, path)
end

local FASHION_DIR = "/usr/share/datasets/fashion-mnist"
local FASHION_FILES = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                       "t10k-labels-idx1-ubyte"}

-- The path of one of the four files in dir: NAME.gz as distributed, else NAME gunzipped; nil
-- when neither is there.
local function find_file(dir, name)
  for _, p in ipairs {dir .. "/" .. name .. ".gz", dir .. "/" .. name} do
    local h = io.open(p, "rb")
    if h then
      h:close()
      return p
    end
  end
end

-- A directory holding the four files (the probe's), each with n images of 2x2 pixels.
local function tiny_mnist(n)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  for k, name in ipairs(FASHION_FILES) do
    local h = assert(io.open(dir .. "/" .. name, "wb"))
    h:write(k % 2 == 1 and string.pack(">I4I4I4I4", 0x803, n, 2, 2) .. string.rep("\7", 4 * n)
                       or string.pack(">I4I4", 0x801, n) .. string.rep("\1", n))
    h:close()
  end
  return dir
end

local fashion_options = options.declare {name = "dagl.data.fashion_mnist", path = "dagl.data.fashion_mnist",
  probe = function(o)
    local dir = tiny_mnist(3)
    if o.dir == nil then o.dir = dir end
    local res = table.pack(pcall(data.fashion_mnist, o))
    os.execute("rm -rf '" .. dir .. "'")
    if not res[1] then error(res[2], 0) end
    return table.unpack(res, 2, res.n)
  end,
  {"dir", "string", default = FASHION_DIR,
   doc = "the folder of the four IDX files (NAME.gz or NAME), as Debian's dataset-fashion-mnist installs them"},
}

--- dagl.data.fashion_mnist({dir = "/usr/share/datasets/fashion-mnist"}) -> x_train, y_train,
-- x_test, y_test: Keras's keras.datasets.fashion_mnist.load_data() (whose tuples become four
-- values): images uint8 (60000, 28, 28) and (10000, 28, 28), labels uint8 (60000) and (10000),
-- classes 0..9, read from the IDX files of Debian's dataset-fashion-mnist. MNIST's files (the
-- same four names) load from their folder through dir too.
function data.fashion_mnist(opts, ...)
  api.at_most("dagl.data.fashion_mnist", "({options})", 1, 1, opts, ...)
  opts = fashion_options:check(opts, 1)
  local dir = opts.dir:gsub("/+$", "")
  local out = {}
  for k, name in ipairs(FASHION_FILES) do
    local p = find_file(dir, name)
    if not p then
      error(("dagl.data.fashion_mnist: '%s/%s.gz' not found (Fashion-MNIST comes in Debian's package "
        .. "dataset-fashion-mnist: apt install dataset-fashion-mnist; or give {dir = ...}, a folder holding the "
        .. "four IDX files of Fashion-MNIST or MNIST, gzipped or not)"):format(dir, name), 2)
    end
    out[k] = api.at_user_line(core.read_idx, p)
  end
  for k = 1, 3, 2 do
    local x, y = out[k], out[k + 1]
    if x:dim() ~= 3 or y:dim() ~= 1 or x.shape[1] ~= y.shape[1] or x:dtype() ~= "uint8" or y:dtype() ~= "uint8" then
      error(("dagl.data.fashion_mnist: '%s' holds %s images of shape [%s] and %s labels of shape [%s]; expected "
        .. "uint8 images (n, height, width) and n uint8 labels"):format(dir, x:dtype(), table.concat(x.shape, ", "),
        y:dtype(), table.concat(y.shape, ", ")), 2)
    end
  end
  return out[1], out[2], out[3], out[4]
end

return data
