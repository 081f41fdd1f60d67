--- dagl.nn.weights: a model's weights on disk. nn.save_weights writes a safetensors file whose
-- metadata lists the weights in the model's order (weight_order, JSON); nn.load_weights reads
-- safetensors, a NumPy .npz, or a directory of .npy files (one per weight, named after it with
-- "/" replaced by "__") and copies the values into the model's tensors in place (optimizers
-- keep their references).
-- Matching is by architecture when the file lists its order (Keras's default): the model's
-- weights in order against the file's, equal counts and shapes position by position, whatever
-- the names (automatic names come from process-wide counters: the same model built again is
-- dense_3, not dense_1). With {by_name = true}, or for files without the order (older dagl
-- files, .npz, .npy directories), names and shapes must match exactly: a mismatch names every
-- missing, unexpected and differently shaped weight.
-- The module returns the pieces that model:save / nn.load_model (saving.lua) share.
local dagl = require "dagl"
local fn = require "dagl.fn"
local json = require "dagl.json"
local options = require "dagl.options"

local nn = require "dagl.nn.base"
local M = {}

--- The model's weights as a list of {name=, value=}, from model.layers and each layer.weights
-- (a single layer, which has no layers, stands for itself).
function nn.named_weights(model)
  local out, seen = {}, {}
  if type(model.weight_entries) == "function" then -- nn.Model: every kind, nested models too
    for _, w in ipairs(model:weight_entries()) do
      if seen[w.name] then error(("weights: two weights are named '%s' (give the layers distinct names)"):format(w.name), 3) end
      seen[w.name] = true
      out[#out + 1] = w
    end
    return out
  end
  local layers = model.layers or (type(model.weights) == "table" and {model}) or {}
  for _, layer in ipairs(layers) do
    for _, w in ipairs(layer.weights or {}) do
      if seen[w.name] then error(("weights: two weights are named '%s' (give the layers distinct names)"):format(w.name), 3) end
      seen[w.name] = true
      out[#out + 1] = w
    end
  end
  return out
end

local function shape_str(s) return "{" .. table.concat(s, ", ") .. "}" end
local same_shape = fn.internal.same_shape

-- The optimizer of a compiled model, when it keeps state that checkpoints can hold.
local function optimizer_of(model)
  local opt = type(model) == "table" and rawget(model, "optimizer") or nil
  return type(opt) == "table" and opt.state_tensors and opt or nil
end

-- The metadata keys dagl writes itself (a caller's metadata may not use them).
local RESERVED = {"format", "weight_order", "model_config", "compile_config", "compile_skipped", "optimizer",
                  "optimizer_iterations"}
M.RESERVED = RESERVED

--- M.write(model, path, meta, include_optimizer, allow_empty): the safetensors file of every
-- weight, meta (a table of strings) plus format = "dagl" and weight_order (the names in the
-- model's order, JSON), and with include_optimizer the compiled optimizer's state tensors
-- ("optimizer/<weight>/<state>") and step count (metadata optimizer, optimizer_iterations).
-- Raises with level 0 (the public functions add the caller's position).
function M.write(model, path, meta, include_optimizer, allow_empty, who)
  local entries = nn.named_weights(model)
  if #entries == 0 and not allow_empty then
    error(("%s '%s': the model has no weights yet (build it first, e.g. call it on an input)"):format(who, path), 0)
  end
  local tbl, order = {}, {}
  for i, w in ipairs(entries) do
    tbl[w.name] = w.value
    order[i] = w.name
  end
  meta.format, meta.weight_order = "dagl", json.encode(order)
  local opt = include_optimizer and optimizer_of(model)
  if opt then
    for name, t in pairs(opt.state_tensors(entries)) do tbl[name] = t end
    meta.optimizer, meta.optimizer_iterations = opt.name, tostring(opt.iterations)
  end
  dagl.save_safetensors(path, tbl, meta)
end

--- M.bare(err): the message of an error without the position Lua put in front of it.
function M.bare(err) return (tostring(err):gsub("^[^\n]-:%d+: ", "")) end

-- Runs f(...) and, when it fails, raises its message at the caller of the public function that
-- called at_caller (without the position inside dagl that the message may carry).
local function at_caller(f, ...)
  local res = table.pack(pcall(f, ...))
  if not res[1] then error(M.bare(res[2]), 3) end
  return table.unpack(res, 2, res.n)
end
M.at_caller = at_caller

--- M.probe_file(body): body(model, path) on a small built model and a temporary file (removed
-- after), re-raising body's error: the probes of the declarations of the file functions
-- (spec/options_spec.lua calls them with wrong options).
function M.probe_file(body)
  local m, path = nn.Sequential{nn.Dense(1)}, os.tmpname()
  m:build{1, 2}
  local ok, err = pcall(body, m, path)
  os.remove(path)
  if not ok then error(err, 0) end
end

local save_options = options.declare {name = "save_weights", path = "model:save_weights",
  probe = function(o) M.probe_file(function(m, path) nn.save_weights(m, path, nil, o) end) end,
  {"include_optimizer", "boolean", default = false,
   doc = "also the compiled optimizer's state and step count, so that training resumes exactly"},
}

--- nn.save_weights(model, path [, metadata [, {include_optimizer = false}]]): a safetensors file
-- of every weight (metadata: a table of strings kept in the file); with include_optimizer, also
-- the compiled optimizer's state tensors (entries "optimizer/<weight>/<state>") and its step
-- count, so that training resumes exactly where it stopped.
function nn.save_weights(model, path, metadata, opts)
  local o = save_options:check(opts, 1)
  local meta = {}
  for k, v in pairs(metadata or {}) do meta[k] = v end
  for _, k in ipairs(RESERVED) do
    if meta[k] ~= nil then error(("save_weights '%s': the metadata key '%s' is dagl's own (used by the file format)"):format(path, k), 2) end
  end
  at_caller(M.write, model, path, meta, o.include_optimizer, false, "save_weights")
end

local function is_dir(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local _, _, code = f:read(1)
  f:close()
  return code == 21 -- EISDIR
end

local function file_name(name) return (name:gsub("/", "__")) end

-- The .npy files of a directory: {weight name = tensor}, names with "__" turned back into "/".
local function read_npy_dir(dir, entries)
  local found = {}
  for _, w in ipairs(entries) do
    local p = dir .. "/" .. file_name(w.name) .. ".npy"
    local f = io.open(p, "rb")
    if f then
      f:close()
      found[w.name] = dagl.load_npy(p)
    end
  end
  -- files for no weight of the model (listing needs a shell; skipped where there is none)
  local ok, ls = pcall(io.popen, "ls -1 '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  if ok and ls then
    for line in ls:lines() do
      local base = line:match("^(.*)%.npy$")
      if base then
        local name = base:gsub("__", "/")
        if not found[name] then found[name] = false end
      end
    end
    ls:close()
  end
  return found
end

-- Reads the file (or directory) into {name = tensor}; a value of false stands for a file that is
-- present but was not read (an unexpected entry of a directory).
local function read_weights(path, entries)
  if is_dir(path) then return read_npy_dir(path, entries) end
  if path:match("%.npz$") then
    local t, out = dagl.load_npz(path), {}
    for k, v in pairs(t) do out[(k:gsub("__", "/"))] = v end
    return out
  end
  return dagl.load_safetensors(path)
end

-- Names of want (a list of {name=, value=}) missing from file, names of file not in want (unless
-- skip(name)) and shape mismatches, as the parts of an error message (empty when all match).
local function mismatches(want, file, skip)
  local missing, unexpected, shapes, expected = {}, {}, {}, {}
  for _, w in ipairs(want) do
    local name, t = w.name, w.value
    expected[name] = true
    local f = file[name]
    if not f then
      missing[#missing + 1] = name
    else
      if not same_shape(t.shape, f.shape) then
        shapes[#shapes + 1] = ("%s expected %s, found %s"):format(name, shape_str(t.shape), shape_str(f.shape))
      end
    end
  end
  for name in pairs(file) do
    if not expected[name] and not (skip and skip(name)) then unexpected[#unexpected + 1] = name end
  end
  table.sort(unexpected)
  local parts = {}
  if #missing > 0 then parts[#parts + 1] = "missing: " .. table.concat(missing, ", ") end
  if #unexpected > 0 then parts[#parts + 1] = "unexpected: " .. table.concat(unexpected, ", ") end
  if #shapes > 0 then parts[#parts + 1] = "shape mismatch: " .. table.concat(shapes, "; ") end
  return parts
end

local function is_optimizer_entry(name) return name:sub(1, 10) == "optimizer/" end

-- The names of the file's weights in the order they were saved (its weight_order metadata), or
-- nil when the file does not say (older dagl files, .npz, .npy directories).
local function saved_order(path, file, meta)
  local text = meta.weight_order
  if text == nil then return nil end
  local ok, order = pcall(json.decode, text)
  if not ok or type(order) ~= "table" or getmetatable(order) ~= nil or #order == 0 and next(order) ~= nil then
    error(("load_weights '%s': the file's weight_order metadata is not a JSON list of names (%s): the file is damaged")
      :format(path, ok and "another value" or order), 0)
  end
  local listed = {}
  for i, name in ipairs(order) do
    if type(name) ~= "string" or not file[name] then
      error(("load_weights '%s': the file's weight_order lists %s at position %d, but the file holds no such tensor: the file is damaged")
        :format(path, options.show(name), i), 0)
    end
    listed[name] = true
  end
  for name in pairs(file) do
    if not listed[name] and not is_optimizer_entry(name) then
      error(("load_weights '%s': the file holds the tensor '%s', which its weight_order does not list: the file is damaged")
        :format(path, name), 0)
    end
  end
  return order
end

-- One weight for messages: "dense_3/kernel {4, 5}".
local function show_weight(name, shape) return ("%s %s"):format(name, shape_str(shape)) end

-- The file's name for each of the model's entries (matched by position), after checking the
-- counts and every shape; raises naming the first mismatch.
local function match_by_order(path, entries, file, order)
  local how = "(weights are matched by position, in layer order; give {by_name = true} to match them by name)"
  for i = 1, math.min(#entries, #order) do
    local w, f = entries[i], file[order[i]]
    if not same_shape(w.value.shape, f.shape) then
      error(("load_weights '%s': the file does not match the model's architecture: weight %d is %s in the model but %s in the file %s")
        :format(path, i, show_weight(w.name, w.value.shape), show_weight(order[i], f.shape), how), 0)
    end
  end
  if #entries ~= #order then
    local n = math.min(#entries, #order) + 1
    local first = #entries > #order and ("the model's weight %d, %s, has none in the file"):format(n,
        show_weight(entries[n].name, entries[n].value.shape))
      or ("the file's weight %d, %s, has none in the model"):format(n, show_weight(order[n], file[order[n]].shape))
    error(("load_weights '%s': the file does not match the model's architecture: the model has %d weights and the file %d (%s) %s")
      :format(path, #entries, #order, first, how), 0)
  end
  return order
end

-- The file's name for each of the model's entries when names must match (the same names),
-- after checking that they do.
local function match_by_name(path, entries, file)
  local parts = mismatches(entries, file, is_optimizer_entry)
  if #parts > 0 then
    error(("load_weights '%s': the file does not match the model (%s)"):format(path, table.concat(parts, "; ")), 0)
  end
  local names = {}
  for i, w in ipairs(entries) do names[i] = w.name end
  return names
end

-- The file's optimizer entries renamed to the model's weight names: "optimizer/<file weight>/
-- <state>" becomes "optimizer/<model weight>/<state>" (rename: file name -> model name).
local function optimizer_entries(file, rename)
  local out = {}
  for name, t in pairs(file) do
    if is_optimizer_entry(name) then
      local weight, state = name:match("^optimizer/(.*)/([^/]*)$")
      local to = weight and rename[weight]
      out[to and ("optimizer/" .. to .. "/" .. state) or name] = t
    end
  end
  return out
end

-- The model's optimizer state to copy from the file: a list of {value = the model's tensor,
-- source = the file's tensor}, or nil when the file has none or the model is not compiled.
local function optimizer_plan(path, model, entries, file, meta, rename)
  local opt = optimizer_of(model)
  if not (opt and meta.optimizer_iterations) then return nil end
  local state = {}
  for name, t in pairs(opt.state_tensors(entries)) do state[#state + 1] = {name = name, value = t} end
  table.sort(state, function(a, b) return a.name < b.name end)
  local saved = optimizer_entries(file, rename)
  local parts = mismatches(state, saved)
  if meta.optimizer ~= opt.name or #parts > 0 then
    error(("load_weights '%s': the file's optimizer state (%s) does not fit the model's optimizer %s%s"):format(
      path, tostring(meta.optimizer), opt.name, #parts > 0 and " (" .. table.concat(parts, "; ") .. ")" or ""), 0)
  end
  for _, s in ipairs(state) do s.source = saved[s.name] end
  return state, opt
end

--- M.assign(model, path, file, meta, by_name): copies the file's tensors (read already) into the
-- model's weights and, when both have it, the optimizer's state; everything is checked before
-- anything is copied.
function M.assign(model, path, file, meta, by_name)
  local entries = nn.named_weights(model)
  local order = not by_name and saved_order(path, file, meta)
  local names = order and match_by_order(path, entries, file, order) or match_by_name(path, entries, file)
  local rename = {}
  for i, w in ipairs(entries) do rename[names[i]] = w.name end
  local state, opt = optimizer_plan(path, model, entries, file, meta, rename)
  for i, w in ipairs(entries) do w.value:copy(file[names[i]]) end
  if state then
    for _, s in ipairs(state) do s.value:copy(s.source) end
    opt.iterations = math.tointeger(tonumber(meta.optimizer_iterations)) or 0
  end
end

local load_options = options.declare {name = "load_weights", path = "model:load_weights",
  probe = function(o) M.probe_file(function(m, path) m:save_weights(path) nn.load_weights(m, path, o) end) end,
  {"by_name", "boolean", default = false,
   doc = "match weights by their names (layer/weight) rather than by position in layer order"},
  {"skip_mismatch", "boolean", default = false, unsupported = "every weight must match; a mismatch raises, naming it"},
}

--- nn.load_weights(model, path [, {by_name = false}]): path is a .safetensors file, a .npz or a
-- directory of .npy. Weights match by architecture (position and shape) when the file records
-- its order, else (and with by_name) by name. Optimizer state saved with include_optimizer goes
-- into the model's compiled optimizer (it must be of the same kind); a model that is not
-- compiled takes the weights alone.
function nn.load_weights(model, path, opts)
  local o = load_options:check(opts, 1)
  local entries = nn.named_weights(model)
  if #entries == 0 then
    error(("load_weights '%s': the model has no weights yet (build it first, e.g. call it on an input)"):format(path), 2)
  end
  local file, meta = at_caller(read_weights, path, entries)
  at_caller(M.assign, model, path, file, meta or {}, o.by_name)
  return model
end

--- M.read(path) -> {name = tensor}, metadata: a safetensors file (raises at level 0).
function M.read(path) return dagl.load_safetensors(path) end

return M
