--- dagl.json: the JSON that model files carry in their safetensors metadata (a model's
-- architecture, the order of its weights, its compile settings). Internal to dagl.nn.
-- json.encode(v) writes nil-free trees of booleans, numbers, strings, lists and string-keyed
-- tables (keys sorted, so the same model always gives the same text; floats with 17 digits,
-- so they read back bit for bit). json.decode(text) is strict (RFC 8259): anything else raises
-- "<what> at byte N", which callers wrap with the file's name.
local M = {}

--- The value JSON's null decodes to (a Lua nil cannot sit in a list).
M.null = setmetatable({}, {__name = "json.null", __tostring = function() return "null" end})

local ESCAPES = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
                 ["\t"] = "\\t"}

local function encode_string(s)
  if not utf8.len(s) then error("json.encode: a string is not valid UTF-8", 0) end
  return '"' .. s:gsub('[%c"\\]', function(c) return ESCAPES[c] or ("\\u%04x"):format(c:byte()) end) .. '"'
end

-- Is t a non-empty list (keys 1..#t, nothing else)? An empty table is written {}.
local function is_list(t)
  local n = #t
  if n == 0 then return false end
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local function encode(v, out, seen)
  local tv = type(v)
  if tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif math.type(v) == "integer" then
    out[#out + 1] = ("%d"):format(v)
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("json.encode: " .. tostring(v) .. " is not a JSON number", 0) end
    local s = ("%.17g"):format(v)
    if not s:find("[.eE]") then s = s .. ".0" end -- stays a float when read back
    out[#out + 1] = s
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif v == M.null then
    out[#out + 1] = "null"
  elseif tv == "table" and getmetatable(v) == nil then
    if seen[v] then error("json.encode: a table contains itself", 0) end
    seen[v] = true
    if is_list(v) then
      out[#out + 1] = "["
      for i, item in ipairs(v) do
        if i > 1 then out[#out + 1] = "," end
        encode(item, out, seen)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then error("json.encode: a table mixes list items and named fields", 0) end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k) .. ":"
        encode(v[k], out, seen)
      end
      out[#out + 1] = "}"
    end
    seen[v] = nil
  else
    error("json.encode: cannot write " .. (tv == "table" and "a table with a metatable" or ("a " .. tv)), 0)
  end
end

--- json.encode(v) -> text; raises on what JSON cannot hold (functions, NaN, mixed tables).
function M.encode(v)
  local out = {}
  encode(v, out, {})
  return table.concat(out)
end

-- ---------------------------------------------------------------------------------------------
-- Decoding: a recursive descent over the text; pos is the next byte.
local MAX_DEPTH = 200

local function fail(what, pos) error(("%s at byte %d"):format(what, pos), 0) end

local function skip(s, pos) return s:find("[^ \t\r\n]", pos) or #s + 1 end

local UNESCAPE = {['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t"}

local function decode_string(s, pos) -- pos at the opening quote
  local out, i = {}, pos + 1
  while true do
    local j = s:find('["\\%c]', i)
    if not j then fail("unterminated string", pos) end
    out[#out + 1] = s:sub(i, j - 1)
    local c = s:sub(j, j)
    if c == '"' then
      local str = table.concat(out)
      if not utf8.len(str) then fail("invalid UTF-8 in a string", pos) end
      return str, j + 1
    elseif c == "\\" then
      local e = s:sub(j + 1, j + 1)
      if UNESCAPE[e] then
        out[#out + 1] = UNESCAPE[e]
        i = j + 2
      elseif e == "u" then
        local hex = s:match("^%x%x%x%x", j + 2)
        if not hex then fail("bad \\u escape", j) end
        local cp = tonumber(hex, 16)
        i = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF then -- a surrogate pair
          local lo = s:match("^\\u([dD][c-fC-F]%x%x)", i)
          if not lo then fail("lone surrogate in a \\u escape", j) end
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (tonumber(lo, 16) - 0xDC00)
          i = i + 6
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          fail("lone surrogate in a \\u escape", j)
        end
        out[#out + 1] = utf8.char(cp)
      else
        fail("bad escape", j)
      end
    else
      fail("control character in a string", j)
    end
  end
end

local decode_value

-- A number as RFC 8259 writes it: -?(0|[1-9]digits)(.digits)?([eE][-+]?digits)?; integers
-- that fit stay Lua integers.
local function decode_number(s, pos)
  local i = pos + (s:sub(pos, pos) == "-" and 1 or 0)
  local int = s:match("^%d+", i)
  if not int or (#int > 1 and int:sub(1, 1) == "0") then fail("bad number", pos) end
  i = i + #int
  local float = false
  local frac = s:match("^%.(%d*)", i)
  if frac then
    if frac == "" then fail("bad number", pos) end
    i, float = i + 1 + #frac, true
  end
  local exp = s:match("^[eE][-+]?%d*", i)
  if exp then
    if not exp:match("%d$") then fail("bad number", pos) end
    i, float = i + #exp, true
  end
  local text = s:sub(pos, i - 1)
  return (not float and math.tointeger(tonumber(text))) or tonumber(text), i
end

local function decode_container(s, pos, depth, close)
  if depth > MAX_DEPTH then fail("nesting deeper than " .. MAX_DEPTH, pos) end
  local out, list = {}, close == "]"
  pos = skip(s, pos + 1)
  if s:sub(pos, pos) == close then return out, pos + 1 end
  while true do
    local v
    if list then
      v, pos = decode_value(s, pos, depth + 1)
      out[#out + 1] = v
    else
      if s:sub(pos, pos) ~= '"' then fail("expected a key", pos) end
      local k
      k, pos = decode_string(s, pos)
      pos = skip(s, pos)
      if s:sub(pos, pos) ~= ":" then fail("expected ':'", pos) end
      if out[k] ~= nil then fail("duplicate key '" .. k .. "'", pos) end
      v, pos = decode_value(s, skip(s, pos + 1), depth + 1)
      out[k] = v
    end
    pos = skip(s, pos)
    local c = s:sub(pos, pos)
    if c == close then return out, pos + 1 end
    if c ~= "," then fail("expected ',' or '" .. close .. "'", pos) end
    pos = skip(s, pos + 1)
  end
end

function decode_value(s, pos, depth)
  pos = skip(s, pos)
  local c = s:sub(pos, pos)
  if c == "{" then return decode_container(s, pos, depth, "}") end
  if c == "[" then return decode_container(s, pos, depth, "]") end
  if c == '"' then return decode_string(s, pos) end
  if c == "-" or c:match("%d") then return decode_number(s, pos) end
  for word, v in pairs {["true"] = true, ["false"] = false, null = M.null} do
    if s:sub(pos, pos + #word - 1) == word then return v, pos + #word end
  end
  fail(c == "" and "unexpected end" or "unexpected character", pos)
end

--- json.decode(text) -> the value; raises "<what> at byte N" on anything but one JSON value.
function M.decode(text)
  if type(text) ~= "string" then error("json.decode: expected a string", 2) end
  local v, pos = decode_value(text, 1, 0)
  pos = skip(text, pos)
  if pos <= #text then fail("trailing characters", pos) end
  return v
end

return M
