-- host_spec.lua -- the `dagl` host (src/main.c), driven as a separate process.
--
-- The binary is $DAGL_BIN, else the interpreter running this spec when that is a dagl host
-- (ctest runs busted under build/dagl), else build/dagl.

local DAGL = dagl_bin() -- spec/helper.lua
local BUILD_DIR = DAGL:match("^(.*)/[^/]*$") or "."
-- The source tree: the parent of this file's directory.
local SRC_DIR = (debug.getinfo(1, "S").source:match("^@(.-)/?spec/[^/]*$")) or ""
if SRC_DIR == "" then SRC_DIR = "." end

local q, write_temp = shell_quote, write_temp -- spec/helper.lua

-- Runs a shell command line; returns stdout, stderr and the exit code.
local function sh(cmdline, stdin)
  local errf = os.tmpname()
  local cmd = cmdline .. " 2>" .. q(errf)
  local inf
  if stdin then
    inf = write_temp(stdin)
    cmd = cmd .. " <" .. q(inf)
  else
    cmd = cmd .. " </dev/null"
  end
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = read_file(errf)
  os.remove(errf)
  if inf then os.remove(inf) end
  return out, err, code
end

-- Runs the host with arguments (each quoted); `env` is a prefix like "VAR=x ".
local function dagl(args, stdin, env)
  local parts = {}
  for i, a in ipairs(args) do parts[i] = q(a) end
  return sh((env or "") .. q(DAGL) .. " " .. table.concat(parts, " "), stdin)
end

describe("dagl host", function()
  it("exists", function()
    local f = io.open(DAGL, "rb")
    assert.is_not_nil(f, "no dagl binary at " .. DAGL)
    f:close()
  end)

  describe("scripts", function()
    it("runs a script with its arguments in `arg` and `...`", function()
      local script = write_temp([[
        print(arg[0])
        print(#arg, arg[1], arg[2])
        print(select("#", ...), ...)
        print(arg[-1])
      ]])
      local out, err, code = dagl({ script, "a", "b c" })
      os.remove(script)
      assert.are.equal(0, code, err)
      assert.are.equal(script .. "\n2\ta\tb c\n2\ta\tb c\n" .. DAGL .. "\n", out)
    end)

    it("puts interpreter options at negative indices of `arg`", function()
      local script = write_temp("print(arg[-3], arg[-2], arg[-1], arg[0], arg[1])")
      local out, err, code = dagl({ "-e", "x=1", script, "y" })
      os.remove(script)
      assert.are.equal(0, code, err)
      assert.are.equal(DAGL .. "\t-e\tx=1\t" .. script .. "\ty\n", out)
    end)

    it("runs stdin as the script for `-`, with arguments", function()
      local out, err, code = dagl({ "-", "p", "q" }, "print(arg[0], ...)\n")
      assert.are.equal(0, code, err)
      assert.are.equal("-\tp\tq\n", out)
    end)

    it("runs stdin as a script when given no arguments and stdin is not a terminal", function()
      local out, err, code = dagl({}, "print(6 * 7)\n")
      assert.are.equal(0, code, err)
      assert.are.equal("42\n", out)
    end)

    it("stops option handling at --", function()
      local script = write_temp("print(arg[1])")
      local out, err, code = dagl({ "--", script, "-e" })
      os.remove(script)
      assert.are.equal(0, code, err)
      assert.are.equal("-e\n", out)
    end)
  end)

  describe("-e and -l", function()
    it("runs -e chunks in order", function()
      local out, err, code = dagl({ "-e", "x = 20", "-e", "print(x + 1)" })
      assert.are.equal(0, code, err)
      assert.are.equal("21\n", out)
    end)

    it("accepts -eCODE without a space", function()
      local out, _, code = dagl({ "-eprint('joined')" })
      assert.are.equal(0, code)
      assert.are.equal("joined\n", out)
    end)

    it("exits 0 with no output for -e ''", function()
      local out, err, code = dagl({ "-e", "" })
      assert.are.equal(0, code)
      assert.are.equal("", out)
      assert.are.equal("", err)
    end)

    it("requires a library into a global with -l mod and -l g=mod", function()
      local out, err, code = dagl({ "-l", "string", "-l", "s=string", "-e", "print(string == s, s.rep('ab', 2))" })
      assert.are.equal(0, code, err)
      assert.are.equal("true\tabab\n", out)
    end)

    it("reports a missing -l module as an error", function()
      local _, err, code = dagl({ "-l", "no_such_module_xyz" })
      assert.are_not.equal(0, code)
      assert.matches("module 'no_such_module_xyz' not found", err, 1, true)
    end)

    it("starts dagl with --threads N, --threads=N or DAGL_NUM_THREADS, through no global", function()
      local code = "print((require('dagl').num_threads()), _DAGL_THREADS)"
      local out, err, status = dagl({ "--threads", "3", "-e", code })
      assert.are.equal(0, status, err)
      assert.are.equal("3\tnil\n", out)
      assert.are.equal("5\tnil\n", (dagl({ "--threads=5", "-e", code })))
      assert.are.equal("2\tnil\n", (dagl({ "-e", code }, nil, "DAGL_NUM_THREADS=2 ")))
      assert.are.equal("3\tnil\n", (dagl({ "--threads", "3", "-e", code }, nil, "DAGL_NUM_THREADS=2 ")))
      local cores = tonumber((dagl({ "-e", "print((require('dagl.core').num_threads()))" }, nil, "DAGL_NUM_THREADS= ")))
      assert.is_true(cores >= 1)
    end)

    it("runs graphs without the memory plan under DAGL_NO_PLAN=1 (no arena kept after a run)", function()
      local code = [[
        local dagl = require "dagl"
        local w, x = dagl.randn(64, 64), dagl.randn(32, 64)
        local f = dagl.fn(function(x) return x:matmul(w):tanh():matmul(w):relu():sum() end)
        local before = dagl.live_bytes()
        f(x)
        print(dagl.live_bytes() - before)
      ]]
      local planned, err = dagl({ "-e", code })
      assert.is_true(tonumber(planned) >= 2 * 32 * 64 * 4, err) -- the arena holds the intermediates
      for _, v in ipairs { "1", "0" } do
        local out = dagl({ "-e", code }, nil, "DAGL_NO_PLAN=" .. v .. " ")
        if v == "1" then assert.are.equal("4\n", out) else assert.are.equal(planned, out) end
      end
    end)

    it("rejects a bad --threads value and unknown options with usage", function()
      for _, args in ipairs({ { "--threads", "0" }, { "--threads", "x" }, { "--threads" }, { "-x" }, { "-e" } }) do
        local out, err, code = dagl(args)
        assert.are_not.equal(0, code, table.concat(args, " "))
        assert.are.equal("", out)
        assert.matches("usage: ", err, 1, true)
      end
    end)
  end)

  describe("version", function()
    local line = "^dagl 0%.1%.0 %(Lua 5%.4%.%d+%)\n"

    it("prints one line for --version and -v", function()
      for _, opt in ipairs({ "--version", "-v" }) do
        local out, err, code = dagl({ opt })
        assert.are.equal(0, code, err)
        assert.matches(line .. "$", out)
      end
    end)

    it("prints the OpenBLAS build and threads for --version -v, -v -v and --version --verbose", function()
      for _, args in ipairs({ { "--version", "-v" }, { "-v", "-v" }, { "--version", "--verbose" } }) do
        local out, err, code = dagl(args)
        assert.are.equal(0, code, err)
        assert.matches(line, out)
        assert.matches("OpenBLAS core: %S+", out)
        assert.matches("OpenBLAS config: [^\n]*OpenBLAS", out)
        assert.matches("OpenBLAS threading: [a-z]+", out)
        assert.matches("\nthreads: %d+", out)
      end
    end)

    -- bench/run runs its native-core half only when this check passed (the environment's
    -- OPENBLAS_CORETYPE stays set everywhere else)
    it("says how the OpenBLAS core was chosen, and verifies an AVX-512 core OpenBLAS detected", function()
      local out = dagl({ "-v", "-v" }, nil, "OPENBLAS_CORETYPE=Haswell ")
      assert.matches("OpenBLAS core: Haswell %(set by OPENBLAS_CORETYPE%)\n", out)
      out = dagl({ "-v", "-v" }, nil, "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ")
      local core, note = out:match("OpenBLAS core: (%S+) %((.-)%)\n")
      assert.is_not_nil(core, out)
      local avx512 = ({ SkylakeX = true, Cooperlake = true, SapphireRapids = true })[core]
      if avx512 then
        assert.matches("verified by dagl's self%-check$", note)
      else -- an older CPU, or an AVX-512 one whose check failed and fell back
        assert.is_truthy(note == "as OpenBLAS detected it" or note:find("failed dagl's self%-check"), note)
      end
    end)

    it("reports --threads in the details", function()
      local out = dagl({ "--threads", "3", "--version", "-v" })
      assert.matches("\nthreads: 3 ", out)
    end)

    it("runs a script after printing the version", function()
      local out, err, code = dagl({ "-v", "-e", "print('then')" })
      assert.are.equal(0, code, err)
      assert.matches(line .. "then\n$", out)
    end)
  end)

  describe("errors", function()
    it("exits non-zero with 'dagl: msg' and a traceback on stderr", function()
      local out, err, code = dagl({ "-e", "local function f() error('boom') end f()" })
      assert.are_not.equal(0, code)
      assert.are.equal("", out)
      assert.matches("^dagl: %(command line%):1: boom\nstack traceback:\n", err)
      assert.matches("in local 'f'", err, 1, true)
    end)

    it("fails for a script's runtime error, syntax error and a missing file", function()
      local script = write_temp("local t = nil\nreturn t.x\n")
      local _, err, code = dagl({ script })
      os.remove(script)
      assert.are_not.equal(0, code)
      assert.matches("attempt to index", err, 1, true)
      assert.matches("stack traceback:", err, 1, true)

      _, err, code = dagl({ "-e", "x = = 1" })
      assert.are_not.equal(0, code)
      assert.matches("^dagl: ", err)

      _, err, code = dagl({ "/nonexistent/script.lua" })
      assert.are_not.equal(0, code)
      assert.matches("cannot open /nonexistent/script.lua", err, 1, true)
    end)

    it("reports non-string error objects", function()
      local _, err, code = dagl({ "-e", "error({})" })
      assert.are_not.equal(0, code)
      assert.matches("(error object is a table value)", err, 1, true)
      _, err = dagl({ "-e", "error(setmetatable({}, {__tostring = function() return 'custom' end}))" })
      assert.matches("dagl: custom", err, 1, true)
    end)

    it("passes os.exit codes through", function()
      local _, _, code = dagl({ "-e", "os.exit(7)" })
      assert.are.equal(7, code)
    end)
  end)

  describe("REPL", function()
    it("prints the value of `return expr` and of a bare expression", function()
      local out, err, code = dagl({ "-i" }, "return 1+1\n1+2, 'x'\n=4\n")
      assert.are.equal(0, code, err)
      assert.matches("^dagl 0%.1%.0 %(Lua 5%.4%.%d+%)\n2\n3\tx\n4\n$", out)
    end)

    it("reads continuation lines for an incomplete statement", function()
      local out, err, code = dagl({ "-i" }, "for i = 1, 2 do\nprint(i * 10)\nend\n")
      assert.are.equal(0, code, err)
      assert.matches("\n10\n20\n$", out)
    end)

    it("reports an error and goes on", function()
      local out, err, code = dagl({ "-i" }, "error('oops')\nprint('after')\n")
      assert.are.equal(0, code)
      assert.matches("oops", err, 1, true)
      assert.matches("stack traceback:", err, 1, true)
      assert.matches("after\n$", out)
    end)

    it("reports input that ends inside a statement", function()
      local _, err = dagl({ "-i" }, "if true then\n")
      assert.matches("'end' expected near <eof>", err, 1, true)
    end)

    it("enters the REPL after a script with -i, keeping its globals", function()
      local out, err, code = dagl({ "-i", "-e", "y = 5" }, "y * 2\n")
      assert.are.equal(0, code, err)
      assert.matches("\n10\n$", out)
    end)

    it("prints nothing for expressions outside interactive mode", function()
      local out, err, code = dagl({ "-" }, "return 1+1\n")
      assert.are.equal(0, code, err)
      assert.are.equal("", out)
    end)
  end)

  describe("Lua paths", function()
    it("binds dagl.core to the built-in binding", function()
      local out, err, code = dagl({ "-e", "print(type(package.preload['dagl.core']))" })
      assert.are.equal(0, code, err)
      assert.are.equal("function\n", out)
    end)

    it("puts the source-tree lua dir first in package.path", function()
      local out = dagl({ "-e", "print(package.path)" })
      assert.matches("^/[^;]*/lua/%?%.lua;/[^;]*/lua/%?/init%.lua;", out)
    end)

    it("lets DAGL_LUA_PATH replace the dagl dirs (a dir or a template)", function()
      local default_first = dagl({ "-e", "print(package.path)" }):match("^[^;]+")
      local out = dagl({ "-e", "print(package.path)" }, nil, "DAGL_LUA_PATH=/opt/x ")
      assert.matches("^/opt/x/%?%.lua;/opt/x/%?/init%.lua;", out)
      assert.is_nil(out:find(default_first, 1, true))
      out = dagl({ "-e", "print(package.path)" }, nil, "DAGL_LUA_PATH='/opt/y/?.lua' ")
      assert.matches("^/opt/y/%?%.lua;", out)
    end)

    it("runs LUA_INIT first, and -E ignores it", function()
      local out = dagl({ "-e", "print(2)" }, nil, "LUA_INIT='print(1)' ")
      assert.are.equal("1\n2\n", out)
      out = dagl({ "-E", "-e", "print(2)" }, nil, "LUA_INIT='print(1)' ")
      assert.are.equal("2\n", out)
    end)

    it("loads `require \"dagl\"` in the host", function()
      local out, err, code = dagl({ "-e", "local d = require 'dagl'; print(type(d), d == require 'dagl')" })
      assert.are.equal(0, code, err)
      assert.are.equal("table\ttrue\n", out)
    end)

    it("lets stock lua5.4 `require \"dagl\"` through LUA_PATH and LUA_CPATH", function()
      local env = "LUA_PATH=" .. q(SRC_DIR .. "/lua/?.lua;" .. SRC_DIR .. "/lua/?/init.lua;;")
        .. " LUA_CPATH=" .. q(BUILD_DIR .. "/lib/?.so;;") .. " "
      -- a sanitized module needs its runtime loaded before stock lua5.4 (CI's ASan build)
      local preload = os.getenv("DAGL_SANITIZER_PRELOAD")
      if preload and preload ~= "" then env = env .. "LD_PRELOAD=" .. q(preload) .. " ASAN_OPTIONS=detect_leaks=0 " end
      local out, err, code = sh(env .. "lua5.4 -e " .. q("local d = require 'dagl'; print(type(d))"))
      assert.are.equal(0, code, err)
      assert.are.equal("table\n", out)
    end)
  end)
end)
