-- docs_spec.lua -- keeps the documents in sync with the code: docs/c_api.md with the headers
-- (docs/gen_c_api.lua --check), docs/lua_api.md with every public Lua name (none missing, none
-- stale), and the LuaLS meta file docs/luals/dagl.lua (parses, declares every function).
local dagl = require "dagl"

-- The source tree: the parent of this file's directory ("." when run from there, as ctest does).
local SRC = (debug.getinfo(1, "S").source:match("^@(.-)/?spec/[^/]*$")) or ""
if SRC == "" then SRC = "." end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do if type(k) == "string" then out[#out + 1] = k end end
  table.sort(out)
  return out
end

-- The inline code spans of a markdown text outside fenced blocks, each with its line number.
local function code_spans(md)
  local spans, fenced, lineno = {}, false, 0
  for line in (md .. "\n"):gmatch("(.-)\n") do
    lineno = lineno + 1
    if line:match("^%s*```") then
      fenced = not fenced
    elseif not fenced then
      for span in line:gmatch("`([^`]+)`") do spans[#spans + 1] = {text = span, line = lineno} end
    end
  end
  return spans
end

-- Every `prefix<sep>name` written in the spans (prefix a whole word): name -> first line number.
-- sep "." takes dotted paths (nn.losses.mse -> "losses.mse"); ":" takes one name.
local function mentions(spans, prefix, sep)
  local found = {}
  local pat = "%f[%w_]" .. prefix .. (sep == "." and "%.([%a_][%w_%.]*)" or ":([%a_][%w_]*)")
  for _, s in ipairs(spans) do
    for name in s.text:gmatch(pat) do
      name = name:gsub("%.+$", "")
      found[name] = found[name] or s.line
    end
  end
  return found
end

-- Whether `path` ("losses.mse") or a deeper path ("losses.mse.x") is among the mentions.
local function mentioned(found, path)
  if found[path] then return true end
  for k in pairs(found) do
    if k:sub(1, #path + 1) == path .. "." then return true end
  end
  return false
end

-- Resolves a dotted path from a table; nil when a step is missing.
local function resolve(root, path)
  local v = root
  for part in path:gmatch("[^%.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
    if v == nil then return nil end
  end
  return v
end

local function optional_module(name)
  local ok, m = pcall(require, name)
  return ok and type(m) == "table" and m or nil
end

describe("docs", function()
  local md, spans
  setup(function()
    md = read_file(SRC .. "/docs/lua_api.md")
    spans = code_spans(md)
  end)

  it("docs/c_api.md is what docs/gen_c_api.lua makes from the headers", function()
    local p = assert(io.popen("cd " .. q(SRC) .. " && lua5.4 docs/gen_c_api.lua --check 2>&1"))
    local out = p:read("a")
    local ok, how, code = p:close()
    assert(ok, ("docs/gen_c_api.lua --check failed (%s %s): %s"):format(how, code, out))
  end)

  it("docs/options.md is what the option declarations make (docs/gen_options.lua)", function()
    local options = require "dagl.options"
    require "dagl.nn"
    require "dagl.data"
    require "dagl.ffi"
    require "dagl.dist"
    local want = options.markdown()
    local have = read_file(SRC .. "/docs/options.md")
    assert(have == want, "docs/options.md is not current: run build/dagl docs/gen_options.lua")
  end)

  it("docs/lua_api.md documents every public name", function()
    local nn = dagl.nn
    local missing = {}
    local function need(ok, name) if not ok then missing[#missing + 1] = name end end

    -- the module: every field as `dagl.NAME`
    local in_dagl = mentions(spans, "dagl", ".")
    local names = sorted_keys(dagl)
    if rawget(dagl, "nn") == nil then names[#names + 1] = "nn" end
    for _, k in ipairs(names) do need(mentioned(in_dagl, k), "`dagl." .. k .. "`") end

    -- tensors: every method as `t:NAME`, every metamethod by its name (`__add`, ...)
    local mt = getmetatable(dagl.ones(1))
    local in_t = mentions(spans, "t", ":")
    for _, k in ipairs(sorted_keys(mt.methods)) do need(in_t[k], "`t:" .. k .. "`") end
    local text = {}
    for _, s in ipairs(spans) do text[#text + 1] = s.text end
    text = " " .. table.concat(text, " ") .. " "
    for _, k in ipairs(sorted_keys(mt)) do
      if k ~= "methods" then need(text:find("%f[%w_]" .. k .. "%f[^%w_]"), "`" .. k .. "` (tensor metamethod)") end
    end
    need(text:find("t%.shape"), "`t.shape`")

    -- graphs: `g:NAME` for dagl.graph() methods, `f:NAME` / `f.NAME` for dagl.fn objects
    local in_g = mentions(spans, "g", ":")
    for _, k in ipairs(sorted_keys(getmetatable(dagl.graph()).__index)) do need(in_g[k], "`g:" .. k .. "`") end
    local in_f, in_fdot = mentions(spans, "f", ":"), mentions(spans, "f", ".")
    for k, v in pairs(dagl.fn(function(x) return x end)) do
      if type(v) == "function" then need(in_f[k], "`f:" .. k .. "`") else need(in_fdot[k], "`f." .. k .. "`") end
    end

    -- dagl.nn: every name as `nn.NAME`; the entries of its plain tables as `nn.TABLE.NAME`;
    -- the methods of nn.Layer as `layer:NAME` and of nn.Sequential as `model:NAME`
    local in_nn = mentions(spans, "nn", ".")
    for _, k in ipairs(sorted_keys(nn)) do
      need(mentioned(in_nn, k), "`nn." .. k .. "`")
      local v = nn[k]
      if type(v) == "table" and getmetatable(v) == nil and k:match("^%l") then
        for _, sub in ipairs(sorted_keys(v)) do need(in_nn[k .. "." .. sub], "`nn." .. k .. "." .. sub .. "`") end
      end
    end
    local in_layer, in_model = mentions(spans, "layer", ":"), mentions(spans, "model", ":")
    for _, k in ipairs(sorted_keys(nn.Layer)) do
      if type(nn.Layer[k]) == "function" and not k:match("^__") then need(in_layer[k], "`layer:" .. k .. "`") end
    end
    for _, k in ipairs(sorted_keys(nn.Sequential)) do
      if type(nn.Sequential[k]) == "function" and not k:match("^__") and k ~= "new" then
        need(in_model[k], "`model:" .. k .. "`")
      end
    end
    need(in_nn["Sequential.new"], "`nn.Sequential.new`")

    -- modules that other parts of dagl add (checked once they exist)
    for _, mod in ipairs {"data", "ffi"} do
      local m = optional_module("dagl." .. mod)
      if m then
        local found = mentions(spans, mod, ".")
        for _, k in ipairs(sorted_keys(m)) do need(mentioned(found, k), "`dagl." .. mod .. "." .. k .. "`") end
      end
    end

    assert(#missing == 0, ("docs/lua_api.md does not document %d public name(s); add an entry "
      .. "(in backticks) for each:\n  %s"):format(#missing, table.concat(missing, "\n  ")))
  end)

  it("docs/lua_api.md names nothing that does not exist", function()
    local nn = dagl.nn
    local stale = {}
    local function check(found, exists, show)
      for name, line in pairs(found) do
        if not exists(name) then stale[#stale + 1] = ("line %d: `%s`"):format(line, show(name)) end
      end
    end
    -- file names and the C module, which are not fields of the module table
    local not_fields = {lua = true, core = true, h = true, data = true, ffi = true}
    check(mentions(spans, "dagl", "."), function(p)
      local first = p:match("^[^%.]+")
      if not_fields[first] and (first ~= "data" and first ~= "ffi" or optional_module("dagl." .. first)) then
        return true
      end
      return resolve(dagl, p) ~= nil
    end, function(p) return "dagl." .. p end)
    local methods = getmetatable(dagl.ones(1)).methods
    check(mentions(spans, "t", ":"), function(k) return methods[k] ~= nil end, function(k) return "t:" .. k end)
    check(mentions(spans, "nn", "."), function(p) return resolve(nn, p) ~= nil end, function(p) return "nn." .. p end)
    local gm = getmetatable(dagl.graph()).__index
    check(mentions(spans, "g", ":"), function(k) return gm[k] ~= nil end, function(k) return "g:" .. k end)
    check(mentions(spans, "model", ":"), function(k) return nn.Sequential[k] ~= nil end,
          function(k) return "model:" .. k end)
    -- layer methods: the base class's, or ones that layer classes define (call, output_shape)
    check(mentions(spans, "layer", ":"), function(k)
      if nn.Layer[k] ~= nil then return true end
      for _, v in pairs(nn) do
        if type(v) == "table" and rawget(v, "kind") and rawget(v, k) ~= nil then return true end
      end
      return false
    end, function(k) return "layer:" .. k end)
    table.sort(stale)
    assert(#stale == 0, ("docs/lua_api.md names %d thing(s) that do not exist (renamed or removed?):\n  %s")
      :format(#stale, table.concat(stale, "\n  ")))
  end)

  it("docs/luals/dagl.lua parses and declares every module function and tensor method", function()
    local chunk, err = loadfile(SRC .. "/docs/luals/dagl.lua")
    assert(chunk, err)
    local src = read_file(SRC .. "/docs/luals/dagl.lua")
    local missing = {}
    local function declared(pat) return src:find(pat) ~= nil end
    for _, k in ipairs(sorted_keys(dagl)) do
      local kind = type(dagl[k])
      local pat = kind == "function" and ("\nfunction dagl%." .. k .. "%(") or ("\ndagl%." .. k .. " =")
      if not declared(pat) then missing[#missing + 1] = kind == "function" and ("function dagl." .. k) or ("dagl." .. k) end
    end
    for _, k in ipairs(sorted_keys(getmetatable(dagl.ones(1)).methods)) do
      if not declared("\nfunction Tensor:" .. k .. "%(") then missing[#missing + 1] = "function Tensor:" .. k end
    end
    assert(#missing == 0, ("docs/luals/dagl.lua does not declare:\n  %s"):format(table.concat(missing, "\n  ")))
  end)
end)
