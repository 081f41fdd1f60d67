--- dagl.api_options: the options of dagl's public functions outside dagl.nn that are C functions
-- (or close to them), declared with dagl.options, and the thin Lua wrappers that check them and
-- then call the C binding: dagl.set_threads, dagl.read_csv, dagl.trace_stop,
-- dagl.set_check_numerics, dagl.set_memory_plan, plus dagl.trace itself. init.lua installs them
-- into the dagl table. dagl.data, dagl.grad, dagl.fn and dagl.ffi declare their own options next
-- to their functions and use at_most, csv_options and the output_shape type from here.
local core = require "dagl.core"
local options = require "dagl.options"

local M = {}
local api = {} -- the checked public functions (M.install puts them into dagl)

-- Where dagl's own Lua files live ("@.../lua/dagl/"): frames there are the library's.
local LIB = debug.getinfo(1, "S").source:match("^(@.*/)[^/]*$")

--- Raises msg at the nearest caller outside dagl's Lua files (and C), so that an error made while
-- tracing points at the user's line even when tail calls (`return x:matmul(w)`) or layers of
-- the library stand between; the top level when every frame is the library's.
function M.user_error(msg)
  local level = 3 -- the caller of the function that called user_error
  while true do
    local info = debug.getinfo(level, "S")
    if not info then error(msg, 0) end
    if info.what ~= "C" and (not LIB or info.source:sub(1, #LIB) ~= LIB) then error(msg, level) end
    level = level + 1
  end
end

-- at_user_line's results: pcall's, the error raised again at the user's line.
local function rethrow(ok, ...)
  if not ok then M.user_error((tostring((...)):gsub("^[^:]*:%d+: ", ""))) end
  return ...
end

--- Returns f(...)'s results; an error it raises (a C binding's, after checking arguments) is
-- raised again at the user's line, without the position it had inside dagl.
function M.at_user_line(f, ...) return rethrow(pcall(f, ...)) end

-- The number of arguments without trailing nils (f(a, nil) passes one).
local function count(...)
  local n = select("#", ...)
  while n > 0 and select(n, ...) == nil do n = n - 1 end
  return n
end

--- Raises when a function got more than `max` arguments (trailing nils not counted); `takes`
-- says what it takes: "dagl.read_csv: takes (path, {options}); got 3 arguments". level 1: at
-- the caller of the function calling at_most.
function M.at_most(name, takes, max, level, ...)
  local n = count(...)
  if n > max then error(("%s: takes %s; got %d arguments"):format(name, takes, n), level + 2) end
end

--- Raises unless v is a string (a file path), naming the function.
function M.check_path(name, v, level)
  if type(v) ~= "string" then error(("%s: path must be a string, got %s"):format(name, options.show(v)), level + 2) end
end

--- Calls f(path) with a temporary file holding `text` (the readers' probes) and removes it.
function M.with_file(text, f)
  local path = os.tmpname()
  local h = assert(io.open(path, "w"))
  h:write(text)
  h:close()
  local res = table.pack(pcall(f, path))
  os.remove(path)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- An option type: a list of values that pred accepts (`what` describes it for messages); with
-- `single` one such value is taken too, as a list of one (wrt = w, argnums = 2).
function M.list_of(pred, what, single)
  return function(v)
    if single and pred(v) then return true, {v} end
    if type(v) ~= "table" or getmetatable(v) ~= nil then return false, what end
    for k, x in pairs(v) do
      if math.type(k) ~= "integer" or k < 1 or k > #v or not pred(x) then return false, what end
    end
    return true
  end
end

-- An output shape: a list of sizes (>= 0; {} for a 0-d result), as dagl.luaop and
-- dagl.ffi.kernel take besides a function of the input shapes.
options.type("output_shape", M.list_of(function(s) return math.type(s) == "integer" and s >= 0 end,
  "a list of sizes (e.g. {2, 3}; {} for a 0-d result)"))

-- A field delimiter: one character.
local function one_char(v)
  if type(v) == "string" and #v == 1 then return true end
  return false, "one character (such as ',', ';' or '\\t')"
end

--- The options of the CSV readers (dagl.read_csv, dagl.data.read_csv, read_csv_dataset),
-- written once and appended to each reader's declaration.
M.csv_options = {
  {"delimiter", one_char, default = ",", aliases = {"sep"}, doc = "the field separator (pandas' sep)"},
  {"header", "boolean", default = false, doc = "the first non-blank line holds the column names"},
}

--- The C reader on checked CSV options: float32 (rows, cols) tensor, column names or nil; its
-- errors (a bad cell, a missing file) raised at the user's line.
function M.read_csv(path, o) return M.at_user_line(core.read_csv, path, {delimiter = o.delimiter, header = o.header}) end

local read_csv_options = options.declare {name = "dagl.read_csv", path = "dagl.read_csv",
  probe = function(o) return M.with_file("1,2\n", function(p) return api.read_csv(p, o) end) end,
  table.unpack(M.csv_options)}

--- dagl.read_csv(path, {delimiter = ",", header = false}) -> tensor, names|nil (the C reader).
function api.read_csv(path, opts, ...)
  M.at_most("dagl.read_csv", "(path, {options})", 2, 1, path, opts, ...)
  M.check_path("dagl.read_csv", path, 1)
  return M.read_csv(path, read_csv_options:check(opts, 1))
end

local threads_options = options.declare {name = "dagl.set_threads", path = "dagl.set_threads", positional = {"inter"},
  probe = function(o)
    local inter, intra = core.num_threads()
    api.set_threads(o)
    core.set_threads {inter = inter, intra = intra}
  end,
  {"inter", "integer", min = 0, max = 4096, doc = "worker threads for later runs (0: one per core)"},
  {"intra", "integer", min = 0, max = 4096, doc = "how many workers may work on one kernel (0: all; 1: none but its node's)"},
}

--- dagl.set_threads(n), dagl.set_threads{inter = n, intra = k}: the C setter, given only what
-- the caller gave.
function api.set_threads(...)
  local o = threads_options:parse(1, ...)
  M.at_user_line(core.set_threads, {inter = o.inter, intra = o.intra})
end

-- The files a trace is written to (dagl.trace and dagl.trace_stop).
local trace_files = {
  {"json", "string", doc = "write the Chrome/Perfetto trace (JSON) to this path"},
  {"svg", "string", doc = "write the SVG timeline to this path"},
}

local trace_options = options.declare {name = "dagl.trace", path = "dagl.trace",
  probe = function(o) return api.trace(o, function() end) end,
  {"print", "boolean", default = false, doc = "print the summary after the run"},
  table.unpack(trace_files)}

local trace_stop_options = options.declare {name = "dagl.trace_stop", path = "dagl.trace_stop",
  probe = function(o)
    core.trace_start()
    local ok, err = pcall(api.trace_stop, o)
    if not ok then
      core.trace_stop()
      error(err, 0)
    end
  end,
  table.unpack(trace_files)}

--- dagl.trace_stop{json =, svg =} -> stats: the C function, its options checked.
function api.trace_stop(opts, ...)
  M.at_most("dagl.trace_stop", "one table of options", 1, 1, opts, ...)
  local o = trace_stop_options:check(opts, 1)
  return M.at_user_line(core.trace_stop, {json = o.json, svg = o.svg})
end

-- The data-parallel world when this process joined one of several ranks (dagl.dist), else nil.
local function dist_world()
  local dist = package.loaded["dagl.dist"]
  if dist and dist.joined() and dist.size() > 1 then return dist end
end

-- Runs body with every graph run recorded; o: dagl.trace's checked options. In a world of
-- several ranks each writes its part and rank 0 merges them into o.json (a process per rank);
-- SVG files get the rank in their name (".rank1.svg").
local function run_traced(o, body)
  core.trace_start()
  local res = table.pack(pcall(body))
  local dist = dist_world()
  local json, svg = o.json, o.svg
  if dist then
    json = json and ("%s.rank%d.part"):format(json, dist.rank())
    svg = svg and (svg:gsub("%.svg$", "") .. (".rank%d.svg"):format(dist.rank()))
  end
  local stats = M.at_user_line(core.trace_stop, {json = json, svg = svg})
  if not res[1] then error(res[2], 0) end
  if dist and json then M.at_user_line(dist.merge_trace, json, o.json) end
  if o.print then io.write(stats.summary) end
  return stats, table.unpack(res, 2, res.n)
end

local function check_body(body, level)
  if not options.callable(body) then
    error(("dagl.trace: body must be a function, got %s"):format(options.show(body)), level + 2)
  end
end

--- dagl.trace{json =, svg =, print =}(body), dagl.trace(opts, body) or dagl.trace(body): runs body
-- with every graph run recorded, writes the files asked for and returns the statistics, then
-- body's results. The options are checked at the call, before body runs.
function api.trace(opts, body, ...)
  if body == nil and type(opts) == "function" then opts, body = nil, opts end
  M.at_most("dagl.trace", "(options, body) or (options)(body)", 2, 1, opts, body, ...)
  local o = trace_options:check(opts, 1)
  if body == nil then
    return function(b, ...)
      M.at_most("dagl.trace(options)", "one function (the body)", 1, 1, b, ...)
      check_body(b, 1)
      return run_traced(o, b)
    end
  end
  check_body(body, 1)
  return run_traced(o, body)
end

-- A setter of a boolean switch: the C function cfn (returning the previous setting), taking only
-- true or false (a string such as "off" would turn it on).
local function switch(name, cfn)
  return function(on, ...)
    M.at_most(name, "one argument (true or false)", 1, 1, on, ...)
    if type(on) ~= "boolean" then error(("%s: on must be true or false, got %s"):format(name, options.show(on)), 2) end
    return cfn(on)
  end
end

--- dagl.set_check_numerics(on), dagl.set_memory_plan(on) -> the previous setting.
api.set_check_numerics = switch("dagl.set_check_numerics", core.set_check_numerics)
api.set_memory_plan = switch("dagl.set_memory_plan", core.set_memory_plan)

-- The file readers and writers take no options: a wrapper that refuses extra arguments (a
-- misplaced options table would be ignored) and calls the C function with what it takes.
local function fixed_arity(name, takes, max, f)
  return function(...)
    M.at_most(name, takes, max, 1, ...)
    return M.at_user_line(f, ...)
  end
end
api.save_safetensors = fixed_arity("dagl.save_safetensors", "(path, {name = tensor}, metadata?)", 3, core.save_safetensors)
api.load_safetensors = fixed_arity("dagl.load_safetensors", "(path)", 1, core.load_safetensors)
api.save_npy = fixed_arity("dagl.save_npy", "(path, tensor)", 2, core.save_npy)
api.load_npy = fixed_arity("dagl.load_npy", "(path)", 1, core.load_npy)
api.load_npz = fixed_arity("dagl.load_npz", "(path)", 1, core.load_npz)
api.read_idx = fixed_arity("dagl.read_idx", "(path)", 1, core.read_idx) -- also dagl.data.read_idx
--- Puts the checked functions into the dagl table (in place of the C functions of those names).
function M.install(dagl)
  for k, f in pairs(api) do dagl[k] = f end
end

return M
