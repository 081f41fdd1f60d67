--- fn_guard.lua -- dagl.fn's guards on the values its function captured (as torch.compile guards
-- what it reads): after each trace the upvalues of the function, and of the Lua functions it
-- holds a few levels deep, are snapshotted (core.capture_snapshot, in C); before each call they
-- are checked (core.capture_changed, some 25 ns an upvalue). A rebound upvalue (a new tensor,
-- number, string, boolean, nil or function) makes dagl.fn drop its traces and retrace with the
-- new value; in-place changes to a captured tensor pass (the graph holds that tensor). Tables
-- (_ENV too) are not guarded: globals and fields are read at trace time only.
local core = require "dagl.core"

local M = {}

--- Retraces caused by changed captures after which dagl.fn warns once (torch.compile's
-- recompile limit is 8 too); it keeps retracing after it.
M.LIMIT = 8

local snapshot, changed = core.capture_snapshot, core.capture_changed

-- "file.lua:12": where a Lua function is defined, for messages.
local function where(f)
  local info = debug.getinfo(f, "S")
  return ("%s:%d"):format(info.short_src, info.linedefined)
end

-- The capture that changed most often among `changes` (description -> count).
local function most_changed(changes)
  local best, n = nil, 0
  for what, k in pairs(changes) do
    if k > n or (k == n and what < best) then best, n = what, k end
  end
  return best, n
end

-- The one warning of a function that keeps retracing, on io.stderr (looked up now, so that a
-- replaced io.stderr gets it).
local function warn(f, retraces, changes)
  local what, n = most_changed(changes)
  io.stderr:write(("dagl.fn: the function at %s was retraced %d times because values it captures"
    .. " changed (%s, %d times); pass it as a tensor argument instead of capturing it (retracing"
    .. " goes on)\n"):format(where(f), retraces, what, n))
end

--- new(f, obj) -> stale, taken: the guard of f for the dagl.fn object obj. stale() is true when
-- an upvalue was rebound since the last taken() (then obj.retraces counts one more retrace, and
-- at M.LIMIT one warning names f and the capture that keeps changing); taken() snapshots the
-- captures after a trace (after, so that values f itself stores while tracing pass).
function M.new(f, obj)
  local snap
  local changes = {}
  obj.retraces = 0
  local function stale()
    if not snap then return false end
    local name, owner = changed(snap)
    if name == nil then return false end
    snap = nil
    obj.retraces = obj.retraces + 1
    local what = owner == f and ("'%s'"):format(name)
      or ("'%s', an upvalue of the function at %s"):format(name, where(owner))
    changes[what] = (changes[what] or 0) + 1
    if obj.retraces == M.LIMIT then warn(f, obj.retraces, changes) end
    return true
  end
  local function taken() snap = snapshot(f) end
  return stale, taken
end

return M
