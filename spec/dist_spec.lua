-- dist_spec.lua -- dagl.dist and data-parallel fit. ctest runs it twice: as one process (the
-- single-rank world: every collective a copy; plus the fault cases, each in a 2-rank mpirun of
-- its own) and under `mpirun -np 2` (mpi.dist_spec: every rank runs the same examples in the
-- same order, so their collectives meet). Expected values are written for any number of ranks.
local dagl = require "dagl"
local nn = dagl.nn
local dist = dagl.dist

local size, rank = dist.size(), dist.rank()
local launched = dist.launched() > 0

local DAGL = dagl_bin() -- spec/helper.lua
local q, write_temp = shell_quote, write_temp

-- Runs a shell command line; returns its stdout and stderr together, and the exit code.
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1 </dev/null", "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

-- Runs a Lua script on 2 ranks under mpirun (under a timeout); returns output, code, seconds.
local function mpirun2(script)
  local path = write_temp(script)
  local t0 = dagl.wall_time()
  local out, code = sh("timeout 60 mpirun --allow-run-as-root --oversubscribe --mca btl self,vader,tcp -np 2 "
    .. q(DAGL) .. " " .. q(path))
  os.remove(path)
  return out, code, dagl.wall_time() - t0
end

describe("dagl.dist", function()
  it("knows the world it runs in", function()
    if launched then
      assert.equal(tonumber(os.getenv("OMPI_COMM_WORLD_SIZE")), size)
      assert.is_true(dist.is_mpi())
    else
      assert.equal(1, size)
      assert.equal(0, rank)
      assert.is_false(dist.is_mpi())
    end
    assert.is_true(rank >= 0 and rank < size)
  end)

  it("reduces, broadcasts, gathers and scatters", function()
    local t = dagl.tensor({1, 2, 3}) + rank -- rank r holds r+1, r+2, r+3
    local s = size * (size - 1) / 2
    assert_close(dist.allreduce(t), {size + s, 2 * size + s, 3 * size + s}, 0)
    assert_close(dist.allreduce(t, {op = "mean"}), {1 + s / size, 2 + s / size, 3 + s / size}, 1e-6)
    assert_close(dist.allreduce(t, {op = "max"}), {size, size + 1, size + 2}, 0)
    assert_close(t, {1 + rank, 2 + rank, 3 + rank}, 0) -- not in place: t kept its values
    local b = dist.broadcast(t:clone(), size - 1)
    assert_close(b, {size, size + 1, size + 2}, 0)
    local same = t:clone()
    assert.equal(same, dist.broadcast(same, {root = 0, inplace = true}))
    assert_close(same, {1, 2, 3}, 0)
    local g = dist.allgather(dagl.tensor({{rank, 10 * rank}}))
    assert.same({size, 2}, g.shape)
    for r = 0, size - 1 do assert_close(g[r + 1], {r, 10 * r}, 0) end
    local rs = dist.reduce_scatter(dagl.arange(0, 2 * size), {op = "sum"})
    assert_close(rs, {size * 2 * rank, size * (2 * rank + 1)}, 0)
    local l = dagl.tensor({rank + 1, 7}, "int64")
    dist.allreduce(l, {inplace = true})
    assert.same({size * (size + 1) // 2, 7 * size}, l:totable())
    dist.barrier()
  end)

  it("checks arguments and options like the rest of dagl", function()
    local t = dagl.ones(2)
    assert.has_error(function() dist.allreduce(t, {op = "summ"}) end,
      "dagl.dist.allreduce: op must be one of 'sum', 'mean', 'max', got 'summ' (did you mean 'sum'?)")
    assert.has_error(function() dist.allreduce(t, {inplcae = true}) end,
      "dagl.dist.allreduce: unknown option 'inplcae' (did you mean 'inplace'? options: inplace, op)")
    assert.has_error(function() dist.allreduce(3) end,
      "bad argument #1 to 'dagl.dist.allreduce' (dagl.Tensor expected, got 3)")
    assert.has_error(function() dist.broadcast(t, size) end,
      ("dagl.dist.broadcast: root %d is not a rank (0..%d)"):format(size, size - 1))
    assert.has_error(function() dist.init{timeot = 3} end,
      "dagl.dist.init: unknown option 'timeot' (did you mean 'timeout'? options: timeout)")
    local ok, err = pcall(dist.allreduce, dagl.tensor({1, 2}, "uint8"))
    assert.is_false(ok)
    assert.matches("allreduce: uint8 tensors cannot be communicated", err, 1, true)
    assert.matches("dist_spec.lua:%d+:", err) -- at the caller's line
    assert.has_error(function() dist.allreduce_grads({t, "x"}) end,
      "dagl.dist.allreduce_grads: gradient 2 is a string, not a tensor")
  end)

  it("runs inside traced functions as graph nodes, as eagerly", function()
    local x = dagl.tensor({{1, 2}, {3, 4}}) * (rank + 1)
    local f = dagl.fn(function(a)
      local r = dist.allreduce_grads({a:exp(), a:sum(), a * 2}, {op = "sum"})
      return r[1], r[2], r[3], dist.allgather(a:sum(2))
    end)
    for _ = 1, 2 do
      local e, s, m, g = f(x)
      assert_close(e, dist.allreduce(x:exp()):totable(), 1e-4)
      assert_close(s, dist.allreduce(x:sum()):item(), 1e-5)
      assert_close(m, dist.allreduce(x * 2):totable(), 0)
      assert_close(g, dist.allgather(x:sum(2)):totable(), 0)
    end
    dagl.set_check_numerics(true) -- every node's output checked: the launch hands out a token, not the buffer in flight
    local ok, e = pcall(f, x)
    dagl.set_check_numerics(false)
    assert.is_true(ok, e)
    assert_close(e, dist.allreduce(x:exp()):totable(), 1e-4)
    assert.matches("allreduce_launch", f:dot(x), 1, true)
    assert.matches("allreduce_wait", f:dot(x), 1, true)
  end)

  -- A small classifier, the same initial weights whatever the rank (dagl.manual_seed).
  local function model(dtype)
    dagl.manual_seed(7)
    local m = nn.Sequential{nn.Dense(8, {activation = "relu", dtype = dtype}), nn.Dense(3, {dtype = dtype})}
    m:compile{loss = "sparse_categorical_crossentropy", optimizer = nn.optimizers.SGD{learning_rate = 0.1, momentum = 0.5},
              metrics = {"accuracy"}}
    return m
  end

  it("fit on every rank with batch b matches one process with batch b x ranks", function()
    dagl.manual_seed(1)
    local x = dagl.randn(96, 5):double()
    local y = x:sum(2):gt(0):long() + x:select(2, 1):gt(1):long()
    math.randomseed(11)
    local ref = model("float64")
    local h1 = ref:fit(x, y, {epochs = 3, batch_size = 8 * size, verbose = 0, distributed = false})
    math.randomseed(11)
    local m = model("float64")
    if rank ~= 0 then -- rank 0's initial weights go to every rank
      for _, w in ipairs(m:weights()) do dagl.assign(w, w * 0 + 5) end
    end
    local h2 = m:fit(x, y, {epochs = 3, batch_size = 8, verbose = 0, distributed = true})
    for i, w in ipairs(m:weights()) do
      assert_close(w, ref:weights()[i]:totable(), 1e-6)
      local all = dist.allgather(w:reshape(1, -1))
      for r = 2, size do assert.equal(0, (all[r] - all[1]):abs():max():item()) end -- bitwise the same
    end
    for e = 1, 3 do
      assert.is_true(math.abs(h1.loss[e] - h2.loss[e]) < 1e-6)
      assert.is_true(math.abs(h1.accuracy[e] - h2.accuracy[e]) < 1e-6)
    end
  end)

  it("launches the first gradient bucket while backward still runs", function()
    dagl.manual_seed(3)
    local m = nn.Sequential{nn.Dense(256, {activation = "relu", input_shape = {64}}), nn.Dense(256, {activation = "relu"}),
                            nn.Dense(256, {activation = "relu"}), nn.Dense(4)}
    m:compile{loss = "sparse_categorical_crossentropy", optimizer = "sgd"}
    local x, y = dagl.randn(64, 64), dagl.zeros(64, "int64")
    m:train_on_batch(x, y, {distributed = true}) -- traced
    local path = os.tmpname()
    local threads = dagl.num_threads()
    dagl.set_threads(1) -- one worker: the order is the scheduler's choice alone (urgent nodes first)
    local ok, err = pcall(dagl.trace, {json = path}, function() m:train_on_batch(x, y, {distributed = true}) end)
    dagl.set_threads(threads)
    assert(ok, err)
    local text = rank == 0 and read_file(path) -- rank 0 wrote every rank's events into its file
    os.remove(path)
    if rank ~= 0 then return end
    local events = require("dagl.json").decode(text).traceEvents
    local launches, last_matmul = {}, -math.huge
    for _, e in ipairs(events) do
      if e.pid ~= 1 then goto next end -- rank 0's

      if e.ph == "X" and e.name == "allreduce_launch" then launches[#launches + 1] = e.ts end
      if e.ph == "X" and e.name == "matmul" then last_matmul = math.max(last_matmul, e.ts + e.dur) end
      ::next::
    end
    table.sort(launches)
    assert.is_true(#launches >= 3, "launches: " .. #launches) -- the loss, then gradient buckets
    -- launch 1 averages the loss (forward has it); launch 2 is the last layer's gradients, which
    -- must start before backward's last matrix product (the first layer's gradient) ends
    assert.is_true(launches[2] < last_matmul, ("first gradient launch at %g us, last matmul ends at %g us"):format(
      launches[2], last_matmul))
  end)

  it("traces collectives on a network lane, every rank in one JSON file", function()
    local m = model()
    local x, y = dagl.randn(16, 5), dagl.zeros(16, "int64")
    m:train_on_batch(x, y, {distributed = true})
    local path = os.tmpname() -- rank 0's is where every rank's events go
    dagl.trace({json = path}, function() m:train_on_batch(x, y, {distributed = true}) end)
    if rank == 0 then
      local doc = require("dagl.json").decode(read_file(path))
      local pids, spans, lanes = {}, 0, {}
      for _, e in ipairs(doc.traceEvents) do
        pids[e.pid] = true
        if e.ph == "M" and e.name == "thread_name" then lanes[e.args.name] = true end
        if e.ph == "X" and e.cat == "span" and e.name:match("^allreduce #%d+ ") then spans = spans + 1 end
      end
      assert.is_true(lanes.network)
      assert.is_true(spans >= 2 * size, "network spans: " .. spans) -- the loss and a gradient bucket per rank
      for r = 1, size do assert.is_true(pids[r], "no events of rank " .. (r - 1)) end
      if size > 1 then assert.equal(size, doc.otherData.ranks) end
    end
    os.remove(path)
    dist.barrier()
  end)

  it("resumes rank 0's checkpoint on any number of ranks as one process resumes it", function()
    dagl.manual_seed(2)
    local x = dagl.randn(64, 5):double()
    local y = x:sum(2):gt(0):long()
    math.randomseed(5)
    local first = model("float64") -- SGD with momentum: optimizer state to carry over
    first:fit(x, y, {epochs = 1, batch_size = 8, verbose = 0, distributed = false})
    local path = os.tmpname() .. ".safetensors" -- every rank writes the same bits; rank 0's file is used
    first:save_weights(path, nil, {include_optimizer = true})
    local ref = model("float64")
    ref:fit(x:narrow(1, 1, 8), y:narrow(1, 1, 8), {epochs = 0, verbose = 0, distributed = false}) -- built
    ref:load_weights(path)
    math.randomseed(6)
    ref:fit(x, y, {epochs = 3, initial_epoch = 1, batch_size = 8 * size, verbose = 0, distributed = false})
    local m = model("float64")
    m:fit(x:narrow(1, 1, 8), y:narrow(1, 1, 8), {epochs = 0, verbose = 0, distributed = false})
    if rank == 0 then m:load_weights(path) end -- the other ranks start from fresh weights and state
    math.randomseed(6)
    m:fit(x, y, {epochs = 3, initial_epoch = 1, batch_size = 8, verbose = 0, distributed = true})
    os.remove(path)
    assert.equal(ref.optimizer.iterations, m.optimizer.iterations)
    for i, w in ipairs(m:weights()) do assert_close(w, ref:weights()[i]:totable(), 1e-6) end
  end)

  it("shards each global batch across the ranks (dagl.data.batches)", function()
    local x = dagl.arange(1, 12):reshape(11, 1) -- 11 rows: 11 - 11 % size are used
    local seen = {}
    for xb in dagl.data.batches(x, {batch_size = 2, shuffle = false, world_size = size, rank = rank, prefetch = false}) do
      for _, v in ipairs(dist.allgather(xb):reshape(-1):totable()) do seen[#seen + 1] = v end
    end
    local want = {}
    for i = 1, 11 - 11 % size do want[i] = i end
    assert.same(want, seen) -- together the ranks saw every used row once, in order
    assert.has_error(function() dagl.data.batches(x, {world_size = 2, rank = 2}) end,
      "dagl.data.batches: rank 2 is not below world_size 2")
  end)

  it("runs ModelCheckpoint on rank 0 only", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
    local m = model()
    local path = ("%s/rank%d.safetensors"):format(dir, rank)
    m:fit(dagl.randn(8 * size, 5), dagl.zeros(8 * size, "int64"), {epochs = 1, batch_size = 4, verbose = 0, distributed = true,
      callbacks = {nn.callbacks.ModelCheckpoint(path, {save_weights_only = true, monitor = "loss"})}})
    local f = io.open(path, "rb")
    if f then f:close() end
    assert.equal(rank == 0, f ~= nil)
    os.execute("rm -rf " .. q(dir))
  end)

  if size > 1 then
    it("refuses ranks with different amounts of training data, naming them", function()
      local m = model()
      local n = rank == 0 and 10 or 12
      assert.has_error(function() m:fit(dagl.ones(n, 5), dagl.zeros(n, "int64"), {verbose = 0}) end,
        "fit: distributed: rank 1 has 12 rows of training data and rank 0 has 10; give every rank the whole data set (each trains on its share)")
    end)

    it("fails on every rank, before data moves, when shapes differ across ranks", function()
      local t = dagl.ones(2, rank == 1 and 4 or 3)
      local ok, err = pcall(dist.allreduce, t)
      assert.is_false(ok)
      assert.matches("rank 0 has float32 [2, 3] and rank 1 has float32 [2, 4]", err, 1, true)
      assert.matches("allreduce %(collective %d+%)", err)
      assert.matches("no data was sent", err, 1, true)
      assert_close(dist.allreduce(dagl.ones(1)), {size}, 0) -- the world goes on
    end)
  end

  if not launched then
    it("is a single-rank world without mpirun, at once", function()
      local t0 = dagl.wall_time()
      local out, code = sh("timeout 20 " .. q(DAGL) .. " -e " ..
        q("local d = require('dagl').dist; print(d.size(), d.rank(), d.is_mpi(), d.allreduce(require('dagl').ones(2)))"))
      assert.equal(0, code)
      assert.equal("1\t0\tfalse\ttensor([1., 1.])\n", out)
      assert.is_true(dagl.wall_time() - t0 < 10)
    end)

    if dist.have_mpi() then
      it("a rank that raises makes the other stop at once, naming it and its error", function()
        local out, code, took = mpirun2([[
          local dagl = require "dagl"
          dagl.dist.init{timeout = 20}
          if dagl.dist.rank() == 1 then error("rank one gave up") end
          dagl.dist.allreduce(dagl.ones(3))
        ]])
        assert.is_not.equal(0, code)
        assert.matches("dagl: [^\n]*:3: rank one gave up", out)
        assert.matches("allreduce %(collective 1%): rank 1 failed: [^\n]*:3: rank one gave up", out)
        assert.is_true(took < 15, "took " .. took .. " s")
      end)

      it("a rank that dies (no notice, no MPI_Finalize) ends the job well before the timeout", function()
        local out, code, took = mpirun2([[
          local dagl = require "dagl"
          dagl.dist.init{timeout = 30}
          if dagl.dist.rank() == 1 then os.exit(3) end -- no lua_close: nothing tells rank 0
          dagl.dist.allreduce(dagl.ones(3))
          print("rank 0 should not get here")
        ]])
        assert.is_not.equal(0, code)
        assert.is_nil(out:find("should not get here", 1, true))
        assert.is_true(took < 20, "took " .. took .. " s")
      end)

      it("Ctrl-C on mpirun stops every rank", function()
        local path = write_temp([[
          local dagl = require "dagl"
          for _ = 1, 600 do dagl.dist.allreduce(dagl.ones(4)) dagl.sleep(0.05) end
          print("finished")
        ]])
        local t0 = dagl.wall_time()
        -- the shell starts mpirun in the background and interrupts that process (its own child, by pid)
        local out = sh("timeout 60 mpirun --allow-run-as-root --oversubscribe --mca btl self,vader,tcp -np 2 "
          .. q(DAGL) .. " " .. q(path) .. " & pid=$!; sleep 2; kill -INT $pid; wait $pid; echo \"status $?\"")
        os.remove(path)
        assert.is_nil(out:find("finished", 1, true))
        assert.matches("status [1-9]", out)
        assert.is_true(dagl.wall_time() - t0 < 20)
      end)

      it("a rank that does not answer makes the other fail after the timeout, naming it", function()
        local out, code, took = mpirun2([[
          local dagl = require "dagl"
          dagl.dist.init{timeout = 1}
          if dagl.dist.rank() == 1 then dagl.sleep(4) end
          local ok, err = pcall(dagl.dist.allreduce, dagl.ones(3))
          if dagl.dist.rank() == 0 then print("rank 0:", err) end
        ]])
        assert.is_not.equal(0, code) -- the ranks are out of step: the job ends through MPI_Abort
        assert.matches("rank 0:\t[^\n]*allreduce %(collective 1%): no answer from rank 1 within 1 s", out)
        assert.is_true(took < 20, "took " .. took .. " s")
      end)
    end
  end
end)
