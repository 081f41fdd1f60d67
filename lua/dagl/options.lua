--- dagl.options: the one option mechanism. Every public function and constructor that takes
-- options declares them once here-style (name, type, range, default, Keras's/PyTorch's other
-- spelling) and this checker applies the declaration: unknown keys raise at the call naming the
-- function, the key and the nearest valid one; wrong types and out-of-range values raise at
-- construction, not at the first call; extra positional arguments raise. The declarations are
-- also what docs/options.md is generated from (docs/gen_options.lua) and what
-- spec/options_spec.lua walks.
--
--   local decl = options.declare{
--     name = "Dense", path = "nn.Dense",            -- as errors and docs name it
--     positional = {"units", "activation"},          -- Keras's order of positional arguments
--     {"units", "integer", min = 1, required = true, doc = "..."},
--     {"activation", "activation", default = "linear"},
--     {"learning_rate", "number", aliases = {"lr"}},  -- other spellings that mean the same
--     {"mask_zero", "boolean", default = false, unsupported = "dagl has no masking"},
--     probe = function(opts) return nn.Dense(opts) end, -- a call taking opts (specs walk it)
--     example = {units = 2},                         -- what a valid probe call needs besides
--   }                                                --   (a table, or a function making one)
--   local o = decl:parse(...)   -- positional arguments and/or one options table
--   local o = decl:check(opts)  -- an options table alone
-- Both return a new table: every declared option under its own name (defaults filled in), the
-- values checked; `o.given` is the set of names the caller gave.
local core = require "dagl.core"

local M = {}

--- Every declaration in the order made (spec/options_spec.lua and docs/gen_options.lua walk it).
M.registry = {}

-- Edit distance between a and b (insertions, deletions, substitutions, adjacent swaps),
-- case-insensitive, for "did you mean".
local function distance(a, b)
  a, b = a:lower(), b:lower()
  local la, lb = #a, #b
  local prev2, prev, cur = {}, {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur = {[0] = i}
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local d = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d = math.min(d, prev2[j - 2] + 1)
      end
      cur[j] = d
    end
    prev2, prev = prev, cur
  end
  return prev[lb]
end
M.distance = distance

--- The nearest of `names` (a list of strings) to `word`, or nil when none is near: within a
-- third of the longer word's length (at least 2), or one containing the other (batchsize /
-- batch_size, from_logit / from_logits, merge / merge_mode; of several, the closest in length).
function M.nearest(word, names)
  local best, bestd
  local plain = word:lower():gsub("_", "")
  for _, n in ipairs(names) do
    local d = distance(word, n)
    if n:lower():gsub("_", "") == plain then d = 0.5 end
    if not bestd or d < bestd then best, bestd = n, d end
  end
  if not best then return nil end
  local limit = math.max(2, math.max(#word, #best) // 3)
  if bestd <= limit then return best end
  -- a part of a name ("merge" for merge_mode) or a name inside the word: the closest in length
  local w, part, partd = word:lower()
  if #w < 3 then return nil end
  for _, n in ipairs(names) do
    local b = n:lower()
    if #b >= 3 and (b:find(w, 1, true) or w:find(b, 1, true)) and (not partd or math.abs(#b - #w) < partd) then
      part, partd = n, math.abs(#b - #w)
    end
  end
  return part
end

-- A value described for messages: 'relu' (a string), 3, a table, a function.
local function show(v)
  if type(v) == "string" then return ("'%s'"):format(v) end
  if type(v) == "number" or type(v) == "boolean" or v == nil then return tostring(v) end
  if type(v) == "table" and getmetatable(v) == nil and #v > 0 and #v <= 8 then -- a short list: {2, 2}
    local parts, plain = {}, true
    for k, x in pairs(v) do
      if math.type(k) ~= "integer" or (type(x) ~= "number" and type(x) ~= "string") then plain = false break end
    end
    if plain then
      for i = 1, #v do parts[i] = type(v[i]) == "string" and ("'" .. v[i] .. "'") or tostring(v[i]) end
      return "{" .. table.concat(parts, ", ") .. "}"
    end
  end
  local mt = getmetatable(v)
  local name = type(mt) == "table" and rawget(mt, "__name")
  return name and ("a " .. name) or ("a " .. type(v))
end
M.show = show

-- ---------------------------------------------------------------------------------------------
-- Types. A type is a function(v, opt) -> ok [, value or what was expected [, hint]]; ok true
-- with a second value replaces v (a normalized form); ok false with the phrase that finishes
-- "<name> must be ..." and optionally a hint added after the message.
local types = {}
M.types = types

--- Registers a named type (the nn parts add activation, initializer, loss, ...).
function M.type(name, check) types[name] = check end

local function in_range(v, o)
  if o.min and v < o.min then return false end
  if o.max and v > o.max then return false end
  if o.above and not (v > o.above) then return false end
  if o.below and not (v < o.below) then return false end
  return true
end

-- The range of a numeric option in words: " >= 1", " in (0, 1)".
local function range_words(o)
  local lo = o.min and ("[" .. o.min) or (o.above and ("(" .. o.above))
  local hi = o.max and (o.max .. "]") or (o.below and (o.below .. ")"))
  if lo and hi then return (" in %s, %s"):format(lo, hi) end
  if o.min then return " >= " .. o.min end
  if o.above then return " > " .. o.above end
  if o.max then return " <= " .. o.max end
  if o.below then return " < " .. o.below end
  return ""
end

types.integer = function(v, o)
  local i = math.type(v) == "float" and math.tointeger(v) or v
  if math.type(i) ~= "integer" or not in_range(i, o) then
    return false, (o.min == 1 and not o.max and "a positive integer") or (o.min == 0 and not o.max and "a non-negative integer")
      or ("an integer" .. range_words(o))
  end
  return true, i
end
types.number = function(v, o)
  if type(v) ~= "number" or v ~= v or not in_range(v, o) then return false, "a number" .. range_words(o) end
  return true
end
-- A type that accepts what pred accepts, and says `what` it expected otherwise.
local function simple(pred, what)
  return function(v) if pred(v) then return true end return false, what end
end
M.simple = simple
types.string = simple(function(v) return type(v) == "string" end, "a string")
types.boolean = simple(function(v) return type(v) == "boolean" end, "true or false")
types["function"] = simple(function(v) return type(v) == "function" end, "a function")
types.table = simple(function(v) return type(v) == "table" and getmetatable(v) == nil end, "a table")
types.any = function() return true end

--- Is v callable (a function, or a table or userdata whose metatable has __call)?
function M.callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end
types.callable = simple(M.callable, "a function")
types.tensor = simple(core.is_tensor, "a tensor")

-- One positive integer or a list of them: a shape without the batch dim ({2} for 2 features).
types.shape = function(v)
  if math.type(v) == "integer" and v > 0 then return true, {v} end
  if type(v) ~= "table" or getmetatable(v) ~= nil or #v == 0 then
    return false, "a list of positive integers (the shape without the batch dim), e.g. {784}"
  end
  for k, s in pairs(v) do
    if math.type(k) ~= "integer" or math.type(s) ~= "integer" or s < 1 then
      return false, "a list of positive integers (the shape without the batch dim), e.g. {784}"
    end
  end
  return true, {table.unpack(v)}
end

-- A positive integer or {rows, cols} of them (kernel sizes, strides): always {rows, cols}.
types.size2 = function(v)
  if math.type(v) == "integer" and v > 0 then return true, {v, v} end
  if type(v) == "table" and #v == 2 and math.type(v[1]) == "integer" and math.type(v[2]) == "integer"
     and v[1] > 0 and v[2] > 0 then
    return true, {v[1], v[2]}
  end
  return false, "a positive integer or {rows, cols} of them"
end

--- A type that is one of the listed values; names that are near one get a "did you mean".
function M.enum(values)
  local strs = {}
  for _, v in ipairs(values) do strs[#strs + 1] = tostring(v) end
  local words = {}
  for _, v in ipairs(values) do words[#words + 1] = show(v) end
  return function(v)
    for _, ok in ipairs(values) do if v == ok then return true end end
    local near = type(v) == "string" and M.nearest(v, strs)
    return false, "one of " .. table.concat(words, ", "), near and ("did you mean '" .. near .. "'?") or nil
  end
end

-- The checker of an option's type: a name, a function, or a list of alternatives (the first that
-- accepts wins; the message lists what each expects).
local function checker(t)
  if type(t) == "function" then return t end
  if type(t) == "string" then
    return function(v, o)
      local f = types[t] or error("dagl.options: unknown type '" .. t .. "'")
      return f(v, o)
    end
  end
  local alts = {}
  for i, a in ipairs(t) do alts[i] = checker(a) end
  return function(v, o)
    local wants, hint = {}, nil
    for _, f in ipairs(alts) do
      local ok, val, h = f(v, o)
      if ok then return true, val end
      wants[#wants + 1] = val
      hint = hint or h
    end
    return false, table.concat(wants, " or "), hint
  end
end

-- ---------------------------------------------------------------------------------------------
-- Declarations.
local Decl = {}
Decl.__index = Decl

--- Declares the options of one function (see the top of this file); returns the declaration.
function M.declare(spec)
  local d = setmetatable({name = spec.name, path = spec.path or spec.name, positional = spec.positional or {},
                          probe = spec.probe, example = spec.example, doc = spec.doc, options = {}, by_name = {}, alias_of = {},
                          names = {}, varargs = spec.varargs}, Decl)
  for _, o in ipairs(spec) do
    local opt = {name = o[1], type = o[2], check = checker(o[2]), default = o.default, required = o.required,
                 min = o.min, max = o.max, above = o.above, below = o.below, aliases = o.aliases or {},
                 unsupported = o.unsupported, doc = o.doc, example = o.example}
    if d.by_name[opt.name] then error("dagl.options: " .. d.name .. " declares " .. opt.name .. " twice") end
    d.options[#d.options + 1] = opt
    d.by_name[opt.name] = opt
    d.names[#d.names + 1] = opt.name
    for _, a in ipairs(opt.aliases) do d.alias_of[a] = opt.name end
  end
  for _, p in ipairs(d.positional) do
    if not d.by_name[p] then error("dagl.options: " .. d.name .. "'s positional " .. p .. " is not declared") end
  end
  table.sort(d.names)
  M.registry[#M.registry + 1] = d
  return d
end

-- Raises msg k frames above the function calling raise (1: that function's caller). The methods
-- below take k the same way and pass k + 1 to the methods they call.
local function raise(msg, k) error(msg, k + 2) end

--- Every name the declaration knows: its options and their aliases.
function Decl:all_names()
  local out = {table.unpack(self.names)}
  for a in pairs(self.alias_of) do out[#out + 1] = a end
  table.sort(out)
  return out
end

--- The message for an unknown key: the function, the key, the nearest valid one, the options.
function Decl:unknown(key)
  if type(key) ~= "string" then
    return ("%s: option keys are names (%s), got the key %s"):format(self.name, table.concat(self.names, ", "), show(key))
  end
  local near = M.nearest(key, self:all_names())
  if near and self.alias_of[near] then near = self.alias_of[near] end
  return ("%s: unknown option '%s' (%soptions: %s)"):format(self.name, key,
    near and ("did you mean '" .. near .. "'? ") or "", table.concat(self.names, ", "))
end

-- Whether a given value is the default: equal, or lists of equal items ({1, 1} for a default
-- {1, 1}), so that writing an unsupported option's default out passes.
local function same_value(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" or #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- Checks one value, storing it into out.
function Decl:take(out, opt, v, level)
  local ok, val, hint = opt.check(v, opt)
  if not ok then
    raise(("%s: %s must be %s, got %s%s"):format(self.name, opt.name, val, show(v), hint and (" (" .. hint .. ")") or ""),
      level)
  end
  if val ~= nil then v = val end
  if opt.unsupported and not same_value(v, opt.default) then
    raise(("%s: %s = %s is not supported: %s"):format(self.name, opt.name, show(v), opt.unsupported), level)
  end
  out[opt.name] = v
  out.given[opt.name] = true
end

-- Fills defaults, checks the required options; returns out.
function Decl:finish(out, level)
  for _, opt in ipairs(self.options) do
    if out[opt.name] == nil then
      if opt.required then
        local pos = {}
        for i, p in ipairs(self.positional) do pos[i] = p end
        raise(("%s: %s is required (%s%s)"):format(self.name, opt.name,
          #pos > 0 and (self.path .. "(" .. table.concat(pos, ", ") .. ") or ") or "",
          self.path .. "{" .. opt.name .. " = ...}"), level)
      end
      local dv = opt.default
      if type(dv) == "table" then dv = {table.unpack(dv)} end
      out[opt.name] = dv
    end
  end
  return out
end

-- Reads an options table's string keys into out (names or aliases); raises on unknown keys and
-- on a name given twice.
function Decl:read_table(out, t, level)
  for k, v in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > #t then
      local name = type(k) == "string" and (self.by_name[k] and k or self.alias_of[k])
      if not name then raise(self:unknown(k), level) end
      if out.given[name] then
        raise(("%s: %s is given twice (%s)"):format(self.name, name,
          k ~= name and ("as " .. k .. " = and as " .. name) or "as an argument and in the options"), level)
      end
      self:take(out, self.by_name[name], v, level + 1)
    end
  end
end

--- decl:check(opts, level) -> the checked options of a table (nil: none given). level: whose
-- caller the error is raised at (1, the default: the caller of the function calling check).
function Decl:check(opts, level)
  level = (level or 1) + 1
  local out = {given = {}, __checked = self}
  if opts ~= nil then
    if type(opts) ~= "table" or getmetatable(opts) ~= nil then
      raise(("%s: expected a table of options (%s), got %s"):format(self.name, table.concat(self.names, ", "),
        show(opts)), level)
    end
    for i = 1, #opts do
      raise(("%s: options are named (%s); got a positional value %s at [%d]"):format(self.name,
        table.concat(self.names, ", "), show(opts[i]), i), level)
    end
    self:read_table(out, opts, level + 1)
  end
  self:finish(out, level + 1) -- not a tail call: the levels count this frame
  return out
end

--- Is t an options table (a plain table with a string key, or empty) rather than a value?
function M.is_options(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil then return false end
  if next(t) == nil then return true end
  for k in pairs(t) do if type(k) ~= "number" then return true end end
  return false
end

--- decl:parse(level, ...) -> the checked options of a Keras-style call: positional values in the
-- declared order, then optionally one options table; a table with names may also hold the
-- positional values in its array part (Dense{8, activation = "relu"}). With varargs = true
-- every positional value goes into a list under the first positional name (Sequential(a, b)).
function Decl:parse(level, ...)
  level = (level or 1) + 1
  local n = select("#", ...)
  local args = {...}
  local opts
  if n >= 1 and M.is_options(args[n]) then
    opts = args[n]
    n = n - 1
  end
  local pos, np = table.move(args, 1, n, 1, {}), n
  if opts then
    for i = 1, #opts do pos[np + i] = opts[i] end
    np = np + #opts
  end
  while np > 0 and pos[np] == nil do np = np - 1 end
  local out = {given = {}, __checked = self}
  if self.varargs then
    if np > 0 then self:take(out, self.by_name[self.positional[1]], table.move(pos, 1, np, 1, {}), level + 1) end
  else
    if np > #self.positional then
      raise(("%s: takes at most %d positional argument%s (%s), then a table of options; got %d"):format(
        self.name, #self.positional, #self.positional == 1 and "" or "s", table.concat(self.positional, ", "),
        np), level)
    end
    for i = 1, np do
      if pos[i] ~= nil then self:take(out, self.by_name[self.positional[i]], pos[i], level + 1) end
    end
  end
  if opts then self:read_table(out, opts, level + 1) end
  self:finish(out, level + 1) -- not a tail call: the levels count this frame
  return out
end

-- What an option's type accepts, in words: the phrase its check gives for a value no type takes.
local function type_words(opt)
  local ok, what = opt.check(coroutine.create(function() end), opt)
  if ok then return "any value" end
  return what
end

-- A default for the docs table.
local function default_words(v)
  if v == nil then return "" end
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = tostring(x) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  if type(v) == "string" then return '"' .. v .. '"' end
  return tostring(v)
end

--- The Markdown reference of every declaration (docs/options.md is this text; docs/gen_options.lua
-- writes it and spec/docs_spec.lua checks it), sorted by path. `load` is required first so that
-- every part that declares options is loaded.
function M.markdown()
  local decls = {table.unpack(M.registry)}
  table.sort(decls, function(a, b) return a.path < b.path end)
  local out = {"# Options of every function that takes them", "",
    "Generated from the declarations in the code (`dagl.options`) by `build/dagl docs/gen_options.lua`;",
    "`spec/docs_spec.lua` checks it is current. Unknown names raise naming the nearest valid one; wrong",
    "types and out-of-range values raise at the call. 'Other spellings' are accepted as the same option",
    "(Keras's, PyTorch's or dagl's older names). An option marked *unsupported* takes only its default:",
    "any other value raises saying why.", ""}
  for _, d in ipairs(decls) do
    out[#out + 1] = "## `" .. d.path .. "`"
    out[#out + 1] = ""
    if #d.positional > 0 then
      out[#out + 1] = ("Positional arguments, in order: %s%s."):format(table.concat(d.positional, ", "),
        d.varargs and " (any number of them)" or "")
      out[#out + 1] = ""
    end
    out[#out + 1] = "| option | takes | default | other spellings | notes |"
    out[#out + 1] = "|---|---|---|---|---|"
    for _, o in ipairs(d.options) do
      local notes = o.unsupported and ("*unsupported*: " .. o.unsupported) or (o.doc or "")
      if o.required then notes = "**required**" .. (notes ~= "" and "; " .. notes or "") end
      out[#out + 1] = ("| `%s` | %s | %s | %s | %s |"):format(o.name, (type_words(o):gsub("|", "\\|")),
        (default_words(o.default):gsub("|", "\\|")), table.concat(o.aliases, ", "), (notes:gsub("|", "\\|")))
    end
    out[#out + 1] = ""
  end
  return table.concat(out, "\n")
end

--- The options of a probe call: the declaration's example (the required options of a valid
-- call) with `opts` over it; `drop` names an option left out (when opts gives it by an alias).
function Decl:probe_options(opts, drop)
  local ex = self.example
  if type(ex) == "function" then ex = ex() end
  local out = {}
  for k, v in pairs(ex or {}) do if k ~= drop then out[k] = v end end
  for k, v in pairs(opts) do out[k] = v end
  return out
end

--- Is o what decl:check or decl:parse returned (options already checked)?
function M.is_checked(o) return type(o) == "table" and getmetatable(o) == nil and rawget(o, "__checked") ~= nil end

--- The options as a plain table of the values given (for configs: what rebuilds the object).
function M.given(o)
  local out = {}
  for k in pairs(o.given) do out[k] = o[k] end
  return out
end

return M
