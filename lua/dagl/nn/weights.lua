--- dagl.nn.weights: a model's weights on disk. nn.save_weights writes a safetensors file;
-- nn.load_weights reads safetensors, a NumPy .npz, or a directory of .npy files (one per weight,
-- named after it with "/" replaced by "__") and copies the values into the model's tensors in
-- place (optimizers keep their references). Names and shapes must match exactly: a mismatch
-- names every missing, unexpected and differently shaped weight.
local dagl = require "dagl"

local nn = require "dagl.nn.base"

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

-- The optimizer of a compiled model, when it keeps state that checkpoints can hold.
local function optimizer_of(model)
  local opt = type(model) == "table" and rawget(model, "optimizer") or nil
  return type(opt) == "table" and opt.state_tensors and opt or nil
end

--- nn.save_weights(model, path [, metadata [, {include_optimizer = false}]]): a safetensors file
-- of every weight; with include_optimizer, also the compiled optimizer's state tensors (entries
-- "optimizer/<weight>/<state>") and its step count (metadata optimizer, optimizer_iterations), so
-- that training resumes exactly where it stopped.
function nn.save_weights(model, path, metadata, opts)
  local entries = nn.named_weights(model)
  if #entries == 0 then
    error(("save_weights '%s': the model has no weights yet (build it first, e.g. call it on an input)"):format(path), 2)
  end
  local tbl = {}
  for _, w in ipairs(entries) do tbl[w.name] = w.value end
  local meta = {format = "dagl"}
  for k, v in pairs(metadata or {}) do meta[k] = v end
  local opt = opts and opts.include_optimizer and optimizer_of(model)
  if opt then
    for name, t in pairs(opt.state_tensors(entries)) do tbl[name] = t end
    meta.optimizer, meta.optimizer_iterations = opt.name, tostring(opt.iterations)
  end
  dagl.save_safetensors(path, tbl, meta)
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
      local a, b = t.shape, f.shape
      local same = #a == #b
      for i = 1, #a do same = same and a[i] == b[i] end
      if not same then shapes[#shapes + 1] = ("%s expected %s, found %s"):format(name, shape_str(a), shape_str(b)) end
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

--- nn.load_weights(model, path): path is a .safetensors file, a .npz or a directory of .npy.
-- Optimizer state saved with include_optimizer goes into the model's compiled optimizer (it must
-- be of the same kind); a model that is not compiled takes the weights alone.
function nn.load_weights(model, path)
  local entries = nn.named_weights(model)
  if #entries == 0 then
    error(("load_weights '%s': the model has no weights yet (build it first, e.g. call it on an input)"):format(path), 2)
  end
  local file, meta = read_weights(path, entries)
  meta = meta or {}
  local parts = mismatches(entries, file, is_optimizer_entry)
  if #parts > 0 then
    error(("load_weights '%s': the file does not match the model (%s)"):format(path, table.concat(parts, "; ")), 2)
  end
  local opt, state = optimizer_of(model), nil
  if opt and meta.optimizer_iterations then
    state = {}
    for name, t in pairs(opt.state_tensors(entries)) do state[#state + 1] = {name = name, value = t} end
    table.sort(state, function(a, b) return a.name < b.name end)
    local saved = {}
    for name, t in pairs(file) do if is_optimizer_entry(name) then saved[name] = t end end
    parts = mismatches(state, saved)
    if meta.optimizer ~= opt.name or #parts > 0 then
      error(("load_weights '%s': the file's optimizer state (%s) does not fit the model's optimizer %s%s"):format(
        path, tostring(meta.optimizer), opt.name, #parts > 0 and " (" .. table.concat(parts, "; ") .. ")" or ""), 2)
    end
  end
  for _, w in ipairs(entries) do w.value:copy(file[w.name]) end
  if state then
    for _, s in ipairs(state) do s.value:copy(file[s.name]) end
    opt.iterations = math.tointeger(tonumber(meta.optimizer_iterations)) or 0
  end
  return model
end

return nn
