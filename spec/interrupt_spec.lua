-- interrupt_spec.lua -- Ctrl-C in the `dagl` host, with real signals: a child dagl runs a small
-- script, says "ready" on stderr when it is about to do the thing under test (a 3 s dagl.sleep,
-- a graph run of several seconds, a long fit, the REPL), and a shell sends it SIGINT 0.3 s later.
-- The child must stop with "<script>:<line>: interrupted" at the script's line and a traceback
-- starting there, a non-zero status, and well within a bound (1.5 s) that is far below how long
-- the work would take on its own, so no case passes by the work simply ending. The latencies
-- measured (signal to process exit, teardown included) are printed.
--
-- The binary is $DAGL_BIN, else the interpreter running this spec when that is a dagl host
-- (ctest runs busted under build/dagl), else build/dagl.

local DAGL = dagl_bin() -- spec/helper.lua

local BOUND_MS = 1500 -- the work under test lasts 3 s or more; reactions measure ~10-50 ms

local q, read_file = shell_quote, read_file -- spec/helper.lua
-- A temporary <name>.lua holding text: messages then say "<name>.lua:N".
local function write_script(text) return write_temp(text, ".lua") end

-- Runs `cmd` (a shell command line starting the child, stdout and stderr redirected by this
-- function) in the background, waits for "ready" on its stderr (up to 20 s), sleeps 0.3 s and
-- sends SIGINT; `again` (seconds) sends a second one that much later. A guard kills the child
-- after 20 s, so a hang fails the test instead of blocking it. Returns the exit status (as the
-- shell reports it: 128+N for a death by signal N), the milliseconds from the last SIGINT to the
-- exit, stdout and stderr.
local function interrupt(cmd, again)
  local out, err = os.tmpname(), os.tmpname()
  local script = table.concat({
    ("%s >%s 2>%s &"):format(cmd, q(out), q(err)),
    "pid=$!",
    -- the guard: its sleep is killed with it, so nothing is left holding this pipe or the pid
    "( sleep 20 & s=$!; trap 'kill $s; exit 0' TERM; wait $s; kill -KILL $pid ) >/dev/null 2>&1 & guard=$!",
    "n=0",
    ("until grep -q '^ready$' %s 2>/dev/null; do n=$((n+1)); [ $n -gt 1000 ] && break; sleep 0.02; done"):format(q(err)),
    "sleep 0.3",
    "t0=$(date +%s%N)",
    "kill -INT $pid",
    again and ("sleep %s; t0=$(date +%%s%%N); kill -INT $pid 2>/dev/null"):format(again) or ":",
    "wait $pid; rc=$?",
    "t1=$(date +%s%N)",
    "kill $guard 2>/dev/null",
    "echo \"$rc $(( (t1 - t0) / 1000000 ))\"",
  }, "\n")
  local p = assert(io.popen("sh -c " .. q(script) .. " </dev/null", "r"))
  local res = p:read("a")
  p:close()
  local stdout, stderr = read_file(out), read_file(err)
  os.remove(out)
  os.remove(err)
  local rc, ms = res:match("(%d+) (%d+)")
  return tonumber(rc), tonumber(ms), stdout, stderr
end

local measured = {}

-- A model and data for fit, then "ready" (7 lines: the next line is 8).
local FIT_SETUP = [[
local dagl = require "dagl"
local nn = dagl.nn
local model = nn.Sequential { nn.Dense(64, {activation = "relu"}), nn.Dense(2) }
model:compile { optimizer = nn.Adam { lr = 0.01 }, loss = "mse" }
local x, y = dagl.randn(4096, 16), dagl.randn(4096, 2)
local opts = { epochs = 100000, batch_size = 64, verbose = false }
io.stderr:write("ready\n")
]]

-- Runs `text` as a script, interrupted twice (`again` seconds apart); checks that it ended
-- non-zero within the bound after the second SIGINT. Returns the status and stderr.
local function interrupt_twice(name, text, again)
  local path = write_script(text)
  local rc, ms, _, err = interrupt(q(DAGL) .. " " .. q(path), again)
  os.remove(path)
  assert.are_not.equal(0, rc, err)
  assert.is_true(ms < BOUND_MS, ("%s: %d ms from the second SIGINT to exit"):format(name, ms))
  measured[#measured + 1] = ("%s %d ms"):format(name, ms)
  return rc, err, path
end

-- Runs `text` as a script under SIGINT and checks the message, the traceback and the status;
-- `line` is the script line the error must name. Returns stdout and stderr.
local function check_script(name, text, line, args)
  local path = write_script(text)
  local rc, ms, out, err = interrupt(q(DAGL) .. " " .. (args or "") .. " " .. q(path))
  os.remove(path)
  local at = path .. ":" .. line
  assert.is_truthy(err:find("ready", 1, true), err)
  assert.is_truthy(err:find("dagl: " .. path .. ":" .. line .. ": interrupted\n", 1, true),
    ("no 'interrupted' at %s in:\n%s"):format(at, err))
  -- the traceback starts at the user's line (not in dagl's own Lua files)
  assert.is_truthy(err:find("stack traceback:\n\t" .. path .. ":" .. line .. ":", 1, true), err)
  assert.are.equal(1, rc, err) -- an error exit, as lua's, not a death by signal
  assert.is_true(ms < BOUND_MS, ("%s: %d ms from SIGINT to exit"):format(name, ms))
  measured[#measured + 1] = ("%s %d ms"):format(name, ms)
  return out, err
end

describe("Ctrl-C (SIGINT) in the dagl host", function()
  teardown(function()
    print("\ninterrupt latencies (SIGINT to exit): " .. table.concat(measured, ", "))
  end)

  it("stops dagl.sleep(3) at once", function()
    check_script("sleep", [[
local dagl = require "dagl"
io.stderr:write("ready\n")
dagl.sleep(3)
print("not reached")
]], 3)
  end)

  it("stops pure Lua before dagl is loaded, as lua does", function()
    check_script("lua loop", [[
io.stderr:write("ready\n")
local t = os.time()
while os.time() - t < 5 do end
]], 3)
  end)

  it("stops a long graph run between nodes", function()
    -- 1500 matmuls of 384x384 in one run, some 5 s here; traced (f:graph) before "ready"
    check_script("graph run", [[
local dagl = require "dagl"
local w = dagl.randn(384, 384) * 0.05
local f = dagl.fn(function(x) for _ = 1, 1500 do x = x:matmul(w):tanh() end return x end)
local x = dagl.randn(384, 384)
f:graph(x)
io.stderr:write("ready\n")
f(x)
]], 7)
  end)

  it("stops fit at the model:fit line", function()
    check_script("fit", FIT_SETUP .. "model:fit(x, y, opts)\n", 8)
  end)

  it("leaves fit's weights and step count consistent, and the model usable", function()
    local path = write_script(FIT_SETUP .. [[
local ok, err = pcall(model.fit, model, x, y, opts)
-- every completed run of the step's graph is one step the optimizer counted, no more, no less
local hyper = {}
for i = 1, #model.optimizer.hyper_names do hyper[i] = dagl.tensor(0, "float32") end
local g = model.step:graph(x:narrow(1, 1, 64), y:narrow(1, 1, 64), table.unpack(hyper))
local steps, runs = model.optimizer.iterations, g:num_runs()
print(ok, err, steps == runs, runs > 0)
local loss = model:train_on_batch(x:narrow(1, 1, 64), y:narrow(1, 1, 64)) -- the workers still run
print(loss == loss, model.optimizer.iterations == g:num_runs(), g:num_runs() == runs + 1)
]])
    local rc, ms, out, err = interrupt(q(DAGL) .. " " .. q(path))
    os.remove(path)
    assert.are.equal(0, rc, err) -- the script caught the interrupt and went on
    assert.are.equal("false\t" .. path .. ":8: interrupted\ttrue\ttrue\ntrue\ttrue\ttrue\n", out)
    measured[#measured + 1] = ("fit caught %d ms"):format(ms)
  end)

  it("stops fit under timeout -s INT, which delivers SIGINT twice (to dagl and to its group)", function()
    local path = write_script(FIT_SETUP .. "model:fit(x, y, opts)\n")
    local p = assert(io.popen(("timeout --preserve-status -k 20 -s INT 3 %s %s 2>&1"):format(q(DAGL), q(path))))
    local out = p:read("a")
    local _, _, rc = p:close()
    os.remove(path)
    assert.is_truthy(out:find(path .. ":8: interrupted\nstack traceback:\n", 1, true), out)
    assert.are.equal(1, rc, out)
  end)

  it("returns the REPL to its prompt: while a line runs, and at the prompt", function()
    -- the REPL reads a pipe; the second SIGINT comes while it waits for the writer's last line
    local feed = [[
dagl = require "dagl"
local _ = io.stderr:write("ready\n")
t0 = dagl.wall_time(); dagl.sleep(3)
print(("after %.2f"):format(dagl.wall_time() - t0))
]]
    local cmd = ("{ printf '%%s' %s; sleep 2; printf 'print(\"alive\")\\n'; } | %s -i"):format(q(feed), q(DAGL))
    local rc, _, out, err = interrupt(cmd, 0.6)
    assert.are.equal(0, rc, err) -- the REPL ended at the end of its input
    assert.are.equal("ready\nstdin:1: interrupted\nstack traceback:\n\tstdin:1: in main chunk\n\t[C]: in ?\n", err)
    local after, rest = out:match("\nafter (%d+%.%d+)\n(.*)$")
    assert.is_truthy(after, out)
    assert.are.equal("\nalive\n", rest) -- a newline for the Ctrl-C at the prompt, then the next line
    local ms = (tonumber(after) - 0.3) * 1000 -- the SIGINT came 0.3 s into the sleep
    assert.is_true(ms < BOUND_MS, ("REPL: %.0f ms from SIGINT to the prompt"):format(ms))
    measured[#measured + 1] = ("REPL ~%.0f ms"):format(ms)
  end)

  -- ThreadSanitizer delivers a signal only when the thread it went to calls into libc, which the
  -- busy node does not for its 4 s when the main thread (which handles SIGINT) runs it
  local tsan = os.getenv("TSAN_OPTIONS") ~= nil
  ;(tsan and pending or it)("stops a CPU-bound Lua node in a per-worker lua_State", function()
    check_script("per-worker node", [[
local dagl = require "dagl"
dagl.set_lock_mode("per-worker")
local busy = dagl.luaop{name = "busy", forward = function(t)
  local c = os.clock() while os.clock() - c < 4 do end
  return t
end}
local f = dagl.fn(function(x) return busy(x) + 1 end)
io.stderr:write("ready\n")
f(dagl.ones(2))
]], 9)
  end)

  -- (under ThreadSanitizer for the same reason as above)
  ;(tsan and pending or it)("prints a message for a second SIGINT while the first is pending, and exits", function()
    -- a coroutine made before the Ctrl-C is not hooked (as in lua.c): its pure-Lua loop runs on
    local rc, err = interrupt_twice("second SIGINT", [[
local busy = coroutine.wrap(function()
  local c = os.clock() while os.clock() - c < 4 do end
end)
io.stderr:write("ready\n")
busy()
]], 0.4)
    assert.is_truthy(err:find("\ndagl: interrupted again; exiting\n", 1, true), err)
    assert.are.equal(130, rc, err) -- ended by SIGINT, as a shell expects of Ctrl-C
  end)

  it("takes two SIGINTs at once as one Ctrl-C (timeout -s INT sends two) and prints the error", function()
    local _, err, path = interrupt_twice("double SIGINT", [[
local dagl = require "dagl"
io.stderr:write("ready\n")
dagl.sleep(3)
]], 0)
    -- normally the one error; "interrupted again" if the machine held the second back 100 ms
    assert.is_truthy(err:find(path .. ":3: interrupted\n", 1, true) or err:find("interrupted again", 1, true), err)
  end)
end)
