--- dagl.dist: data-parallel work across processes on MPI (docs/distributed.md). Started by
-- `mpirun -np N dagl script.lua`, every process is one rank of the world; started any other
-- way (or built without MPI) the world has one rank and every collective is a copy, so the same
-- script runs alone. The collectives take real tensors (they block, without the VM lock, until
-- every rank has taken part) or, inside dagl.fn traces, symbols: then they are graph nodes that
-- communicate while the rest of the graph runs. Each checks first, on every rank, that all ranks
-- call the same collective on the same dtype and shape; a rank that fails or stops answering
-- makes the others fail within the timeout naming it (C side: src/dist/, include/dagl.h).
local core = require "dagl.core"
local options = require "dagl.options"
local api = require "dagl.api_options"
local fn = require "dagl.fn"

local M = {}

local world -- the handle (core.dist_world), joined by init or the first collective

local init_options = options.declare {name = "dagl.dist.init", path = "dagl.dist.init",
  probe = function(o) return M.init(o) end,
  {"timeout", "number", above = 0,
   doc = "seconds a collective waits for the other ranks before it fails naming them (default DAGL_DIST_TIMEOUT or 60)"},
}

--- dagl.dist.init{timeout = 60} -> dagl.dist: joins the world (once per process; later calls only
-- set the timeout). The other functions join it on first use too.
function M.init(...)
  api.at_most("dagl.dist.init", "({options})", 1, 1, ...)
  local o = init_options:check((...), 1)
  world = api.at_user_line(core.dist_world, o.timeout)
  return M
end

-- The joined world.
local function W()
  if not world then world = api.at_user_line(core.dist_world) end
  return world
end

--- dagl.dist.rank() -> this process's rank, 0-based; dagl.dist.size() -> the number of ranks.
function M.rank() return W():rank() end
function M.size() return W():size() end
--- dagl.dist.is_mpi() -> whether this world runs on MPI (launched by mpirun), not the stand-in.
function M.is_mpi() return W():is_mpi() end
--- dagl.dist.have_mpi() -> whether dagl was built with MPI; dagl.dist.launched() -> the world size
-- an MPI launcher announced (0: none started this process). Neither joins the world.
M.have_mpi = core.dist_have_mpi
M.launched = core.dist_launched
--- dagl.dist.sequence() -> how many collectives this rank has issued.
function M.sequence() return W():sequence() end
--- dagl.dist.timeout([seconds]) -> the timeout of every collective (set first when given).
function M.timeout(s)
  if s ~= nil and not (type(s) == "number" and s > 0) then
    error("dagl.dist.timeout: seconds must be a positive number, got " .. options.show(s), 2)
  end
  return W():timeout(s)
end
--- dagl.dist.barrier(): returns once every rank has called it.
function M.barrier() return api.at_user_line(W().barrier, W()) end
--- dagl.dist.close(): leaves the world (tells the others, then MPI_Finalize); MPI cannot be joined
-- again in this process. The collector does it at exit otherwise.
function M.close()
  if world then world:close() end
end
--- dagl.dist.fail(message): tells the other ranks this one failed (the dagl host does it when a
-- script ends in an error); their collectives then fail naming this rank and the message.
function M.fail(msg) W():fail(tostring(msg)) end

local OP = {"op", options.enum {"sum", "mean", "max"}, default = "sum", doc = "the reduction"}
local INPLACE = {"inplace", "boolean", default = false,
  doc = "write the result into the tensor given (real tensors only) instead of a new one"}

-- A collective on a symbol: its graph nodes, launched after the trace's previous collective so
-- every rank launches them in one order. Returns the result symbols.
local function traced(name, kind, op, root, syms, inplace)
  if inplace then api.user_error(name .. ": inplace = true takes a real tensor; in a traced function use the result") end
  local tr = syms[1].tracer
  local ids = {}
  for i, s in ipairs(syms) do
    if not fn.is_symbol(s) or s.tracer ~= tr then ids[i] = fn.lift(syms[1], s).id else ids[i] = s.id end
  end
  local outs, launch = api.at_user_line(W().collective, W(), tr.g, kind, op, root, ids, tr.dist_after)
  tr.dist_after = launch
  local res = {}
  for i, id in ipairs(outs) do res[i] = fn.internal.new_sym(tr, id) end
  return res
end

-- The tensor argument of a collective, checked.
local function tensor_arg(name, t)
  if not (core.is_tensor(t) or fn.is_symbol(t)) then
    error(("bad argument #1 to '%s' (dagl.Tensor expected, got %s)"):format(name, options.show(t)), 3)
  end
end

local allreduce_options = options.declare {name = "dagl.dist.allreduce", path = "dagl.dist.allreduce",
  probe = function(o) return M.allreduce(core.ones(2), o) end, OP, INPLACE}

--- dagl.dist.allreduce(t, {op = "sum"|"mean"|"max", inplace = false}) -> the reduction of every
-- rank's t (t itself, overwritten, with inplace).
function M.allreduce(t, opts, ...)
  api.at_most("dagl.dist.allreduce", "(t, {options})", 2, 1, t, opts, ...)
  tensor_arg("dagl.dist.allreduce", t)
  local o = allreduce_options:check(opts, 1)
  if fn.is_symbol(t) then return traced("dagl.dist.allreduce", "allreduce", o.op, 0, {t}, o.inplace)[1] end
  return api.at_user_line(W().allreduce, W(), t, o.op, o.inplace)
end

local broadcast_options = options.declare {name = "dagl.dist.broadcast", path = "dagl.dist.broadcast",
  positional = {"root"}, probe = function(o) return M.broadcast(core.ones(2), o) end,
  {"root", "integer", min = 0, default = 0, doc = "the rank whose tensor every rank gets"}, INPLACE}

--- dagl.dist.broadcast(t, root = 0) or (t, {root = 0, inplace = false}) -> root's t on every rank.
function M.broadcast(t, ...)
  tensor_arg("dagl.dist.broadcast", t)
  local o = broadcast_options:parse(1, ...)
  if o.root >= M.size() then
    error(("dagl.dist.broadcast: root %d is not a rank (0..%d)"):format(o.root, M.size() - 1), 2)
  end
  if fn.is_symbol(t) then return traced("dagl.dist.broadcast", "broadcast", "sum", o.root, {t}, o.inplace)[1] end
  return api.at_user_line(W().broadcast, W(), t, o.root, o.inplace)
end

--- dagl.dist.allgather(t) -> every rank's t joined along dim 1 in rank order.
function M.allgather(t, ...)
  api.at_most("dagl.dist.allgather", "(t)", 1, 1, t, ...)
  tensor_arg("dagl.dist.allgather", t)
  if fn.is_symbol(t) then return traced("dagl.dist.allgather", "allgather", "sum", 0, {t})[1] end
  return api.at_user_line(W().allgather, W(), t)
end

local reduce_scatter_options = options.declare {name = "dagl.dist.reduce_scatter", path = "dagl.dist.reduce_scatter",
  probe = function(o) return M.reduce_scatter(core.ones(2), o) end, OP}

--- dagl.dist.reduce_scatter(t, {op = "sum"}) -> block `rank` (along dim 1, which the number of
-- ranks must divide) of the reduction of every rank's t.
function M.reduce_scatter(t, opts, ...)
  api.at_most("dagl.dist.reduce_scatter", "(t, {options})", 2, 1, t, opts, ...)
  tensor_arg("dagl.dist.reduce_scatter", t)
  local o = reduce_scatter_options:check(opts, 1)
  if fn.is_symbol(t) then return traced("dagl.dist.reduce_scatter", "reduce_scatter", o.op, 0, {t})[1] end
  return api.at_user_line(W().reduce_scatter, W(), t, o.op)
end

local MAX_BUCKET_TENSORS = 7 -- a launch node's sources, less the one that orders it

-- Buckets of gradient positions: in reverse order (the last layer's gradients come first out of
-- backward), at most `cap` bytes (the first one 1/8 of it, so communication starts early) and
-- MAX_BUCKET_TENSORS tensors each, one dtype each. The same list on every rank: it depends only
-- on the gradients' shapes.
local function buckets(grads, cap)
  local out, cur, bytes, dtype = {}, nil, 0, nil
  local limit = math.max(1, cap // 8)
  for i = #grads, 1, -1 do
    local g = grads[i]
    local size = 1
    for _, d in ipairs(g.shape) do size = size * d end
    size = size * (g:dtype() == "float32" and 4 or 8)
    if cur and (#cur == MAX_BUCKET_TENSORS or bytes + size > limit or g:dtype() ~= dtype) then
      out[#out + 1] = cur
      cur, limit = nil, cap
    end
    if not cur then cur, bytes, dtype = {}, 0, g:dtype() end
    cur[#cur + 1] = i
    bytes = bytes + size
  end
  if cur then out[#out + 1] = cur end
  return out
end

local grads_options = options.declare {name = "dagl.dist.allreduce_grads", path = "dagl.dist.allreduce_grads",
  probe = function(o) return M.allreduce_grads({core.ones(2)}, o) end,
  {"op", options.enum {"mean", "sum"}, default = "mean", doc = "mean: the gradient of the mean loss over every rank's batch"},
  {"bucket_bytes", "integer", min = 1, default = 4 * 1024 * 1024,
   doc = "most bytes per allreduce (the first bucket takes 1/8 of it)"},
}

--- dagl.dist.allreduce_grads(grads, {op = "mean", bucket_bytes = 4 MiB}) -> the list of every
-- rank's gradients averaged (summed with op = "sum"), in buckets: in a traced function (a
-- training step) each bucket is one allreduce that starts as soon as its gradients exist, in
-- reverse order, so communication overlaps the rest of backward; on real tensors each bucket is
-- reduced in place, one after another.
function M.allreduce_grads(grads, opts, ...)
  api.at_most("dagl.dist.allreduce_grads", "(grads, {options})", 2, 1, grads, opts, ...)
  if type(grads) ~= "table" or getmetatable(grads) ~= nil then
    error("bad argument #1 to 'dagl.dist.allreduce_grads' (a list of gradients expected, got " .. options.show(grads) .. ")", 2)
  end
  local o = grads_options:check(opts, 1)
  local sym
  for i, g in ipairs(grads) do
    if fn.is_symbol(g) then sym = sym or g
    elseif not core.is_tensor(g) then
      error(("dagl.dist.allreduce_grads: gradient %d is a %s, not a tensor"):format(i, type(g)), 2)
    end
  end
  local out = {}
  if not sym then
    for i, g in ipairs(grads) do out[i] = api.at_user_line(W().allreduce, W(), g, o.op, false) end
    return out
  end
  for _, b in ipairs(buckets(grads, o.bucket_bytes)) do
    local syms = {}
    for k, i in ipairs(b) do syms[k] = grads[i] end
    local res = traced("dagl.dist.allreduce_grads", "allreduce", o.op, 0, syms)
    for k, i in ipairs(b) do out[i] = res[k] end
  end
  return out
end

--- dagl.dist.joined() -> whether this process joined the world already (nothing is joined).
function M.joined() return world ~= nil end

-- Every rank's string s, on rank 0 (a list in rank order; nil on the others): the lengths, then
-- the bytes, 6 to an int64 (exact in a Lua float too), in two allgathers.
local function gather_strings(s)
  local lens = W():allgather(core.tensor({#s}, "int64")):totable()
  local most = 0
  for _, n in ipairs(lens) do most = math.max(most, n) end
  local words = math.max(1, (most + 5) // 6)
  local padded = s .. string.rep("\0", words * 6 - #s)
  local ints = {}
  for i = 1, words do ints[i] = string.unpack("<I6", padded, (i - 1) * 6 + 1) end
  local all = W():allgather(core.tensor(ints, "int64")):totable()
  if W():rank() ~= 0 then return nil end
  local out = {}
  for r = 0, #lens - 1 do
    local parts = {}
    for i = 1, words do parts[i] = string.pack("<I6", math.tointeger(all[r * words + i])) end
    out[r + 1] = table.concat(parts):sub(1, lens[r + 1])
  end
  return out
end

--- dagl.dist.merge_trace(part, path): every rank's trace JSON (the file `part`, which is
-- removed) into one file `path` written by rank 0, a process per rank ("rank 0", ...), on one
-- time axis (each part's otherData.origin_ns: exact on one machine, whose monotonic clock every
-- rank shares; machines' clocks differ by their boot times). dagl.trace calls it when the world
-- has several ranks.
function M.merge_trace(part, path)
  local f = assert(io.open(part, "rb"))
  local text = f:read("a")
  f:close()
  os.remove(part)
  local texts = gather_strings(text)
  if not texts then return end
  local json = require "dagl.json"
  local docs, origin = {}, math.huge
  for r, t in ipairs(texts) do
    docs[r] = json.decode(t)
    origin = math.min(origin, docs[r].otherData.origin_ns)
  end
  local events, summaries = {}, {}
  for r, doc in ipairs(docs) do
    local shift = (doc.otherData.origin_ns - origin) / 1000
    for _, e in ipairs(doc.traceEvents) do
      e.pid = r
      if e.ts then e.ts = e.ts + shift end
      if e.ph == "M" and e.name == "process_name" then e.args.name = "rank " .. (r - 1) end
      events[#events + 1] = e
    end
    summaries[r] = doc.otherData.summary
  end
  local out = assert(io.open(path, "wb"))
  out:write(json.encode({traceEvents = events, displayTimeUnit = "ms",
                         otherData = {origin_ns = origin, ranks = #docs, summaries = summaries}}))
  out:close()
end

return M
