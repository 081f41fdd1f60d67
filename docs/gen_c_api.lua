-- docs/gen_c_api.lua -- writes docs/c_api.md, the C API reference, from the comments in
-- include/dagl.h and include/dagl_lua.h; with --check, writes nothing and fails (exit 1) when the
-- page is out of date or a public function has no comment. Run from the source root:
--   lua5.4 docs/gen_c_api.lua [--check]
-- A declaration is documented by the comment block above it (shared by the declarations and
-- typedefs that follow it up to a blank line) or by a comment on its own line.
local headers = {
  {"include/dagl.h", "The core (libdagl): contexts, tensors, operations, graphs, locks, traces."},
  {"include/dagl_lua.h", "Embedding the Lua half (libdagl_lua): runtimes, models, sessions."},
}

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Splits a header into items: section titles, documented declarations and undocumented names.
local function parse(text)
  local items, comment, undocumented = {}, nil, {}
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  local i = 1
  while i <= #lines do
    local line = lines[i]
    local section = line:match("^/%* %-+ (.-) %*/$")
    if section then
      items[#items + 1] = {section = section}
      comment = nil
    elseif line:match("^/%*") and not line:match("^/%*%*?$") or line:match("^/%*$") then
      local block = {}
      while true do
        local l = lines[i]
        block[#block + 1] = l
        if l:match("%*/%s*$") then break end
        i = i + 1
      end
      local txt = table.concat(block, "\n"):gsub("^/%*+%s?", ""):gsub("%s*%*/%s*$", ""):gsub("\n %* ?", "\n")
        :gsub("\n %*$", "\n")
      comment = txt
    elseif line:match("^DAGL_API") then
      local decl = {line}
      while not decl[#decl]:match(";") do
        i = i + 1
        decl[#decl + 1] = lines[i]
      end
      local d = table.concat(decl, "\n")
      local trailing = d:match("/%*%s*(.-)%s*%*/%s*$")
      d = d:gsub("%s*/%*.-%*/%s*$", ""):gsub("#if.-#endif%s*", ""):gsub("%s*;$", ";"):gsub("DAGL_API ", ""):gsub("\n         ", "\n")
      local name = d:match("([%w_]+)%s*%(")
      local doc = comment or trailing
      if not doc then undocumented[#undocumented + 1] = name end
      items[#items + 1] = {decl = d, doc = doc, shared = comment ~= nil and items[#items] and items[#items].doc == comment,
                           name = name}
    elseif line:match("^%s*$") then
      comment = nil -- a blank line ends a comment's reach (typedefs between do not)
    end
    i = i + 1
  end
  return items, undocumented
end

local function render()
  local out = {"# dagl C API reference", "",
               "Generated from the headers by `docs/gen_c_api.lua` (a test keeps it in sync). Every call returns",
               "a `dagl_status` unless noted; on failure the context's `dagl_ctx_last_error` names the operation and",
               "the shapes. Tensors are reference-counted: functions that give a tensor (`**out`) give a new",
               "reference, which the caller releases with `dagl_tensor_release`.", ""}
  local missing = {}
  for _, h in ipairs(headers) do
    local items, und = parse(read(h[1]))
    for _, n in ipairs(und) do missing[#missing + 1] = h[1] .. ": " .. n end
    out[#out + 1] = "## `" .. h[1]:match("[^/]+$") .. "`"
    out[#out + 1] = ""
    out[#out + 1] = h[2]
    out[#out + 1] = ""
    local pending = {}
    local function flush()
      if #pending == 0 then return end
      out[#out + 1] = "```c"
      for _, it in ipairs(pending) do out[#out + 1] = it.decl end
      out[#out + 1] = "```"
      if pending[1].doc then out[#out + 1] = pending[1].doc end
      out[#out + 1] = ""
      pending = {}
    end
    for _, it in ipairs(items) do
      if it.section then
        flush()
        out[#out + 1] = "### " .. it.section
        out[#out + 1] = ""
      else
        if not it.shared then flush() end
        pending[#pending + 1] = it
      end
    end
    flush()
  end
  return table.concat(out, "\n"), missing
end

local page, missing = render()
if arg[1] == "--check" then
  local ok = true
  if #missing > 0 then
    io.stderr:write("public functions without a comment:\n  " .. table.concat(missing, "\n  ") .. "\n")
    ok = false
  end
  local f = io.open("docs/c_api.md", "rb")
  local cur = f and f:read("a")
  if f then f:close() end
  if cur ~= page then
    io.stderr:write("docs/c_api.md is out of date: run `lua5.4 docs/gen_c_api.lua`\n")
    ok = false
  end
  os.exit(ok and 0 or 1)
end
local f = assert(io.open("docs/c_api.md", "wb"))
f:write(page)
f:close()
if #missing > 0 then io.stderr:write("undocumented: " .. table.concat(missing, ", ") .. "\n") end
