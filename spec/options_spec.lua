-- options_spec.lua -- walks every option declaration (dagl.options' registry, filled by the code
-- itself, not a hand list) and calls the real public function through the declaration's probe:
-- the probe works with no options; a misspelled key raises at the call naming the function, the
-- key and the nearest valid one; a value of the wrong type raises at the call naming the option;
-- other spellings (aliases) are accepted; an unsupported value raises saying so. Then it checks
-- that the public constructors of dagl.nn all reject unknown options (so none escapes a
-- declaration), and the checker's own rules (positional forms, "given twice", levels).
local dagl = require "dagl"
local nn = dagl.nn
local options = require "dagl.options"
require "dagl.data"
require "dagl.ffi"
require "dagl.dist"

-- A misspelling of name that is no name or alias of the declaration: the last letter doubled
-- (or another letter appended when that is taken).
local function typo(d, name)
  local known = {}
  for _, n in ipairs(d:all_names()) do known[n] = true end
  for _, cand in ipairs {name .. name:sub(-1), name:sub(1, -2), name .. "x"} do
    if not known[cand] and #cand > 0 then return cand end
  end
end

-- A value no declared type accepts (only "any" takes it).
local BAD = coroutine.create(function() end)

-- Calls d's probe with opts over its example (what a valid call needs), printing nothing (probes
-- of fit and evaluate would print progress lines); drop leaves an example option out.
local function quiet(f, ...)
  local real = print
  print = function() end
  local res = table.pack(pcall(f, ...))
  print = real
  return table.unpack(res, 1, res.n)
end
local function probe(d, opts, drop)
  return quiet(function() return d.probe(d:probe_options(opts, drop)) end)
end

describe("every option declaration", function()
  it("has a probe and there are declarations for every part", function()
    local paths = {}
    for _, d in ipairs(options.registry) do
      assert.is_function(d.probe, d.path .. " has no probe")
      paths[d.path] = true
    end
    for _, p in ipairs {"nn.Dense", "nn.Conv2D", "model:compile", "model:fit", "model:evaluate", "model:predict",
                        "nn.Sequential", "nn.Input", "nn.Model", "layer:add_weight"} do
      assert.is_true(paths[p], "no declaration for " .. p)
    end
  end)

  it("works when given no options", function()
    for _, d in ipairs(options.registry) do
      local ok, err = probe(d, {})
      assert.is_true(ok, d.path .. ": the probe with no options failed: " .. tostring(err))
    end
  end)

  it("raises on a misspelled key, naming the function, the key and the nearest valid one", function()
    local n = 0
    for _, d in ipairs(options.registry) do
      for _, o in ipairs(d.options) do
        local bad = typo(d, o.name)
        local ok, err = probe(d, {[bad] = 1})
        assert.is_false(ok, ("%s: the misspelled key '%s' was accepted"):format(d.path, bad))
        local want = ("%s: unknown option '%s' (did you mean '%s'?"):format(d.name, bad, o.name)
        assert.truthy(tostring(err):find(want, 1, true),
          ("%s: expected %q in the error, got: %s"):format(d.path, want, tostring(err)))
        n = n + 1
      end
    end
    assert.is_true(n > 100, "only " .. n .. " options walked")
  end)

  it("raises on a value of the wrong type at the call, naming the option", function()
    for _, d in ipairs(options.registry) do
      for _, o in ipairs(d.options) do
        if select(1, o.check(BAD, o)) ~= true then
          local ok, err = probe(d, {[o.name] = BAD})
          assert.is_false(ok, ("%s: %s accepted a coroutine"):format(d.path, o.name))
          local want = ("%s: %s must be "):format(d.name, o.name)
          assert.truthy(tostring(err):find(want, 1, true),
            ("%s: expected %q in the error, got: %s"):format(d.path, want, tostring(err)))
        end
      end
    end
  end)

  it("accepts the other spellings as the same option, and not both at once", function()
    for _, d in ipairs(options.registry) do
      for _, o in ipairs(d.options) do
        for _, a in ipairs(o.aliases) do
          -- the alias with a wrong value fails the same check as the option itself
          if select(1, o.check(BAD, o)) ~= true then
            local ok, err = probe(d, {[a] = BAD}, o.name)
            assert.is_false(ok)
            assert.truthy(tostring(err):find(d.name .. ": " .. o.name .. " must be ", 1, true), tostring(err))
          end
          local ok2, err2 = probe(d, {[a] = o.default, [o.name] = o.default})
          if o.default ~= nil then
            assert.is_false(ok2, d.path .. ": both " .. a .. " and " .. o.name .. " were accepted")
            assert.truthy(tostring(err2):find("given twice", 1, true), tostring(err2))
          end
        end
      end
    end
  end)
end)

describe("the public constructors of dagl.nn", function()
  -- Every layer class, optimizer, loss and callback constructor rejects an unknown key: none
  -- reads its options without a declaration.
  local function rejects(what, f)
    local ok, err = quiet(f, {zzz_not_an_option = 1})
    assert.is_false(ok, what .. " accepted an unknown option")
    assert.truthy(tostring(err):find("unknown option 'zzz_not_an_option'", 1, true), what .. ": " .. tostring(err))
  end

  it("reject unknown options: every layer class", function()
    local n = 0
    for name, v in pairs(nn) do
      if type(v) == "table" and rawget(v, "kind") and rawget(v, "new") and rawget(v, "__index") == v
         and name:match("^%u") then
        rejects("nn." .. name, v)
        n = n + 1
      end
    end
    assert.is_true(n >= 14, "only " .. n .. " layer classes found")
  end)

  it("reject unknown options: optimizers, losses, callbacks", function()
    for _, name in ipairs {"SGD", "Adam", "AdamW", "RMSprop"} do rejects("nn." .. name, nn[name]) end
    for name, f in pairs(nn.losses) do
      if type(f) == "function" and name:match("^%u") then rejects("nn.losses." .. name, f) end
    end
    for name, f in pairs(nn.callbacks) do
      if type(f) == "function" and name ~= "runner" and name ~= "list" then rejects("nn.callbacks." .. name, f) end
    end
  end)
end)

describe("the option checker", function()
  local d = options.declare {name = "demo", path = "demo", positional = {"units", "activation"},
    probe = function(o) return o end,
    {"units", "integer", min = 1, required = true},
    {"activation", "string", default = "linear"},
    {"learning_rate", "number", min = 0, default = 0.1, aliases = {"lr"}},
    {"mask", "boolean", default = false, unsupported = "no masks here"},
  }
  -- the demo declaration must not stay in the registry the other tests walk
  table.remove(options.registry)

  local function demo(...)
    local o = d:parse(1, ...) -- not a tail call: level 1 is demo's caller
    return o
  end

  it("takes Keras's positional forms and an options table", function()
    local o = demo(8, "relu")
    assert.equal(8, o.units)
    assert.equal("relu", o.activation)
    assert.equal(0.1, o.learning_rate)
    o = demo{units = 4, lr = 0.5}
    assert.equal(4, o.units)
    assert.equal(0.5, o.learning_rate)
    o = demo{4, "tanh", learning_rate = 1}
    assert.equal("tanh", o.activation)
    assert.same({units = 4, activation = "tanh", learning_rate = 1}, options.given(o))
    assert.equal(2, demo(2.0).units) -- integral floats are integers
  end)

  it("raises at the caller's line", function()
    local ok, err = pcall(function() demo(8, {activaton = "relu"}) end)
    assert.is_false(ok)
    assert.truthy(err:find("options_spec.lua:%d+: demo: unknown option 'activaton' %(did you mean 'activation'%?"), err)
  end)

  it("raises on extra positional arguments, a value given twice, a missing one, an unsupported one", function()
    assert.has_error(function() demo(8, "relu", 3) end,
      "demo: takes at most 2 positional arguments (units, activation), then a table of options; got 3")
    assert.has_error(function() demo(8, {units = 4}) end, "demo: units is given twice (as an argument and in the options)")
    assert.has_error(function() demo() end, "demo: units is required (demo(units, activation) or demo{units = ...})")
    assert.has_error(function() demo(8, {mask = true}) end, "demo: mask = true is not supported: no masks here")
    assert.has_error(function() demo(0) end, "demo: units must be a positive integer, got 0")
    assert.has_error(function() demo(8, {[3] = 1, lr = 1}) end,
      "demo: option keys are names (activation, learning_rate, mask, units), got the key 3")
  end)

  it("suggests near names only when they are near", function()
    assert.equal("batch_size", options.nearest("batchsize", {"batch_size", "epochs"}))
    assert.equal("from_logits", options.nearest("from_logit", {"from_logits", "reduction"}))
    assert.equal("momentum", options.nearest("momentun", {"momentum", "nesterov"}))
    assert.is_nil(options.nearest("zzz", {"momentum", "nesterov"}))
    -- a part of a longer name, whatever name is nearest by edits ("name" is 3 edits from "merge")
    assert.equal("merge_mode", options.nearest("merge", {"name", "merge_mode", "layer"}))
    assert.equal("stateful", options.nearest("state", {"return_sequences", "return_state", "stateful"}))
    assert.is_nil(options.nearest("ab", {"abc_mode"}))
  end)
end)
