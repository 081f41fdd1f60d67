-- onnx_spec.lua -- ONNX import (dagl.onnx, src/onnx/): every fixture of spec/fixtures/onnx (made by
-- make_fixtures.py from PyTorch modules and single-node models with NumPy references) matches its
-- reference outputs to 1e-4 relative, gives the same bits at 1 and 2 threads, and the error cases
-- name what is wrong.
local dagl = require "dagl"

local dir = "spec/fixtures/onnx/"

local function fixture_names()
  local names = {}
  local p = io.popen("ls " .. dir)
  for f in p:lines() do
    local name = f:match("^(.-)%.onnx$")
    if name and io.open(dir .. name .. ".out0.pb") then names[#names + 1] = name end
  end
  p:close()
  table.sort(names)
  return names
end

local function read_list(name, kind)
  local list, i = {}, 0
  while io.open(("%s%s.%s%d.pb"):format(dir, name, kind, i)) do
    list[i + 1] = dagl.onnx.read_tensor(("%s%s.%s%d.pb"):format(dir, name, kind, i))
    i = i + 1
  end
  return list
end

-- The largest |got - want| relative to max(|want|) (0 for equal integer results).
local function rel_err(got, want)
  assert.are.same(want.shape, got.shape)
  assert.are.equal(want:dtype(), got:dtype())
  local g, w = got:to("float64"), want:to("float64")
  local scale = math.max(w:abs():max():item(), 1e-6)
  return (g - w):abs():max():item() / scale
end

local function bits_equal(a, b)
  return a:dtype() == b:dtype() and (a:to("float64") - b:to("float64")):abs():max():item() == 0
end

local function raises(f, pattern)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.is_truthy(tostring(err):find(pattern, 1, true), ("error %q does not contain %q"):format(tostring(err), pattern))
end

describe("dagl.onnx parity", function()
  after_each(function() dagl.set_threads {inter = 0, intra = 0} end)
  local names = fixture_names()

  it("has the fixtures (models and one per op)", function()
    assert.is_true(#names >= 60, "only " .. #names .. " fixtures")
  end)

  for _, name in ipairs(names) do
    it(name .. " matches its reference at 1 and 2 threads, bitwise the same", function()
      local m = dagl.onnx.load(dir .. name .. ".onnx")
      local xs, refs = read_list(name, "in"), read_list(name, "out")
      dagl.set_threads(1)
      local one = table.pack(m(table.unpack(xs)))
      dagl.set_threads(2)
      local two = table.pack(m(table.unpack(xs)))
      assert.are.equal(#refs, one.n)
      for i, ref in ipairs(refs) do
        local e = rel_err(one[i], ref)
        assert.is_true(e <= 1e-4, ("%s output %d: relative error %g"):format(name, i, e))
        assert.is_true(bits_equal(one[i], two[i]), name .. ": 1 and 2 threads differ")
      end
    end)
  end
end)

describe("dagl.onnx models", function()
  it("take inputs by name and give outputs by name", function()
    local m = dagl.onnx.load(dir .. "op_split.onnx")
    local x = read_list("op_split", "in")[1]
    local r = m:run {x0 = x}
    assert.are.same({2, 2, 3}, r.y0.shape)
    assert.are.same({2, 4, 3}, r.y1.shape)
    assert.are.equal(r[1], r.y0)
    assert.are.same({"y0", "y1"}, m.outputs)
    assert.are.equal("x0", m.inputs[1].name)
  end)

  it("make one graph per input signature", function()
    local m = dagl.onnx.load(dir .. "op_relu.onnx")
    assert.are.equal(1, m.num_graphs) -- fixed input shape: built at load time
    m(dagl.randn(2, 3, 4))
    assert.are.equal(1, m.num_graphs)
    local y = m(dagl.randn(2, 3, 4))
    assert.are.same({2, 3, 4}, y.shape)
  end)

  it("join a dagl.fn trace: composed with other ops in one graph", function()
    local m = dagl.onnx.load(dir .. "cnn.onnx")
    local x, ref = read_list("cnn", "in")[1], read_list("cnn", "out")[1]
    local f = dagl.fn(function(v) return m(v) * 2 + 1, m:run(v)[1] end)
    local a, b = f(x)
    assert.is_true(rel_err(a, ref * 2 + 1) <= 1e-4)
    assert.is_true(bits_equal(b, m(x)))
    assert.are.equal(1, f.traces)
    local names = {}
    for line in f:dot(x):gmatch("[^\n]+") do
      if line:find("conv2d", 1, true) then names[#names + 1] = line end
    end
    assert.is_true(#names >= 2) -- the model's convolutions are nodes of the trace's graph
  end)

  it("leave symbolic dims open until called, folding the shape subgraph then", function()
    local m = dagl.onnx.load(dir .. "dynamic_batch.onnx")
    assert.are.same({-1, 2, 4, 4}, m.inputs[1].shape)
    assert.are.equal(0, m.num_graphs)
    local x, ref = read_list("dynamic_batch", "in")[1], read_list("dynamic_batch", "out")[1]
    assert.is_true(rel_err(m(x), ref) <= 1e-4)
    -- batch 1: each row alone gives that row of the batch of 3
    local one = m(x:narrow(1, 2, 1):contiguous())
    assert.is_true(rel_err(one, ref:narrow(1, 2, 1):contiguous()) <= 1e-4)
    assert.are.equal(2, m.num_graphs)
    -- the graph has no shape ops left: Shape, Gather, Concat folded into the reshape's constant
    local dot = m:graph(x):dot()
    assert.is_nil(dot:find("gather", 1, true))
    assert.is_nil(dot:find("concat", 1, true))
  end)

  it("read weights from external data files next to the model", function()
    local ext = dagl.onnx.load(dir .. "mlp_external.onnx")
    local x, ref = read_list("mlp", "in")[1], read_list("mlp", "out")[1]
    assert.is_true(rel_err(ext(x), ref) <= 1e-4)
  end)

  it("fold BatchNormalization into the Conv before it", function()
    local m = dagl.onnx.load(dir .. "conv_bn.onnx")
    local x = read_list("conv_bn", "in")[1]
    local plan = m:graph(x):plan()
    local dot = m:graph(x):dot()
    -- one live convolution: the first (unfolded) conv is dead
    local convs = 0
    for line in dot:gmatch("[^\n]+") do
      if line:find("conv2d", 1, true) and not line:find("dashed", 1, true) then convs = convs + 1 end
    end
    assert.are.equal(1, convs)
    assert.is_true(plan.nodes >= 1)
  end)

  it("keep activations NHWC between layers: a CNN has transposes only at its boundaries", function()
    local m = dagl.onnx.load(dir .. "branches.onnx")
    local x = read_list("branches", "in")[1]
    local dot = m:graph(x):dot()
    local permutes = 0
    for line in dot:gmatch("[^\n]+") do
      if line:find("permute", 1, true) and not line:find("dashed", 1, true) then permutes = permutes + 1 end
    end
    assert.are.equal(1, permutes) -- the graph input's; the pooled (N, 1, 1, C) flattens by a reshape
    -- conv, instance norm, activations, per-channel and per-column constants, where, clip, pad,
    -- concat, pool, sigmoid: all NHWC; converted at the input and at the flatten only
    m = dagl.onnx.load(dir .. "nhwc_chain.onnx")
    x = read_list("nhwc_chain", "in")[1]
    permutes = 0
    for line in m:graph(x):dot():gmatch("[^\n]+") do
      if line:find("permute", 1, true) and not line:find("dashed", 1, true) then permutes = permutes + 1 end
    end
    assert.are.equal(2, permutes)
  end)
end)

describe("dagl.onnx errors", function()
  it("name an unsupported op, its node and the opset at load time", function()
    raises(function() dagl.onnx.load(dir .. "unsupported_op.onnx") end,
           "unsupported op Det (node 'the_det_node', opset 13)")
  end)

  it("name an opset outside 7 to 17", function()
    raises(function() dagl.onnx.load(dir .. "opset18.onnx") end, "uses opset 18; dagl imports opsets 7 to 17")
  end)

  it("name an unsupported attribute value with its node", function()
    raises(function() dagl.onnx.load(dir .. "dilated_conv.onnx") end,
           "Conv node 'dilated' (opset 13): attribute 'dilations': 2 is not supported")
  end)

  it("refuse external data outside the model's folder", function()
    raises(function() dagl.onnx.load(dir .. "external_escape.onnx") end,
           "tensor 'w': external data location '../../../../etc/hostname' must be a path inside the model's folder")
  end)

  it("name an attribute dagl does not know", function()
    raises(function() dagl.onnx.load(dir .. "unknown_attr.onnx") end,
           "Relu node 'odd_relu' (opset 13): attribute 'foo': not supported by dagl's Relu importer")
  end)

  it("say a truncated or corrupt file is one", function()
    local f = assert(io.open(dir .. "cnn.onnx", "rb"))
    local data = f:read("a")
    f:close()
    local path = os.tmpname()
    f = assert(io.open(path, "wb"))
    f:write(data:sub(1, #data // 2))
    f:close()
    raises(function() dagl.onnx.load(path) end, "is not a valid ONNX model: the protobuf data is truncated or corrupt")
    f = assert(io.open(path, "wb"))
    f:write("")
    f:close()
    raises(function() dagl.onnx.load(path) end, "is empty")
    os.remove(path)
    raises(function() dagl.onnx.load(dir .. "no_such_file.onnx") end, "cannot open")
  end)

  it("refuse build-time constants too large to be a model's (found by fuzz_onnx: a Pad of 8 GB)", function()
    raises(function() dagl.onnx.load(dir .. "fuzz_huge_pad.onnx") end,
           "Pad node 'op_pad_node' (opset 13): a constant of shape [15618, 32257, 4] filled at build time would take more than 256 MiB")
  end)

  it("check a tensor's data against its dims before allocating (found by fuzz_onnx: dims of 9 GB over no data)", function()
    raises(function() dagl.onnx.read_tensor(dir .. "fuzz_huge_dims.pb") end, "0 values of DOUBLE for 1130183274 elements")
  end)

  it("refuse a reshape whose dims overflow int64 (found by fuzz_onnx: [738197508, 2666130979403333631])", function()
    raises(function() dagl.onnx.load(dir .. "fuzz_reshape_overflow.onnx") end,
           "Reshape node 'op_reshape_node' (opset 13): reshape: cannot reshape [2, 3, 4] (24 elements) to [738197508, 2666130979403333631]")
    -- the same check in the core, eagerly
    raises(function() dagl.randn(2, 3, 4):reshape(738197508, 2666130979403333631) end, "cannot reshape")
  end)

  it("refuse two nodes of one name, as ONNX Runtime does", function()
    raises(function() dagl.onnx.load(dir .. "duplicate_names.onnx") end,
           "onnx: two nodes are named 'same' (Relu and Neg); node names must be unique")
  end)

  it("name the input whose shape does not fit", function()
    local m = dagl.onnx.load(dir .. "mlp.onnx")
    raises(function() m(dagl.randn(4, 21)) end, "input 'x0': shape [4, 21] does not fit the model's [4, 20]")
    raises(function() m(dagl.randn(4, 20):to("float64")) end, "input 'x0' is float64, the model takes float32")
  end)

  it("are raised at the caller's line", function()
    local ok, err = pcall(function() dagl.onnx.load(dir .. "unsupported_op.onnx") end)
    assert.is_false(ok)
    assert.is_truthy(err:find("^[^:]*onnx_spec%.lua:%d+: onnx: unsupported op Det"), err)
    local m = dagl.onnx.load(dir .. "mlp.onnx")
    ok, err = pcall(function() m(dagl.randn(4, 21)) end)
    assert.is_truthy(err:find("^[^:]*onnx_spec%.lua:%d+: onnx: input 'x0'"), err)
  end)

  it("check arguments in lauxlib's style", function()
    raises(function() dagl.onnx.load(42) end, "bad argument #1 to 'load' (string expected, got number)")
    raises(function() dagl.onnx.load(dir .. "mlp.onnx", {shapez = {}}) end, "bad argument #2 to 'load' (unknown option 'shapez'")
    local m = dagl.onnx.load(dir .. "mlp.onnx")
    raises(function() m("x") end, "bad argument #1 to 'onnx model' (dagl.Tensor expected, got string)")
    raises(function() m:run {nope = dagl.randn(4, 20)} end, "bad argument #1 to 'run' (no input named 'nope' (inputs: x0))")
    raises(function() m() end, "onnx model: 0 inputs given, the model takes 1 (x0)")
    raises(function() dagl.onnx.write_tensor("x", "p") end, "bad argument #1 to 'write_tensor' (dagl.Tensor expected, got string)")
  end)
end)

describe("dagl.onnx tensors", function()
  it("write and read back TensorProto files of every dtype", function()
    local path = os.tmpname()
    for _, t in ipairs {dagl.randn(2, 3), dagl.randn(4):to("float64"), dagl.arange(0, 5):to("int64"), dagl.arange(0, 3):to("uint8")} do
      dagl.onnx.write_tensor(t, path)
      local back = dagl.onnx.read_tensor(path)
      assert.is_true(bits_equal(t, back))
      assert.are.same(t.shape, back.shape)
    end
    local f = assert(io.open(path, "wb"))
    f:write("\255\255\255")
    f:close()
    raises(function() dagl.onnx.read_tensor(path) end, "is not a TensorProto")
    os.remove(path)
  end)
end)

describe("dagl.onnx.save", function()
  local function roundtrip(f, xs)
    local path = os.tmpname()
    dagl.onnx.save(f, path, xs)
    local m = dagl.onnx.load(path)
    os.remove(path)
    return m
  end

  it("writes traced functions that load back with the same results", function()
    dagl.manual_seed(1)
    local w1, b1, w2 = dagl.randn(20, 16) * 0.2, dagl.randn(16), dagl.randn(16, 5)
    local f = function(x)
      return ((x:matmul(w1) + b1):relu():matmul(w2) * 0.5 - 1):softmax(2), x:sum(2, true):tanh(), x:gt(0.5)
    end
    local x = dagl.randn(4, 20)
    local m = roundtrip(f, {x})
    assert.are.same({"output_0", "output_1", "output_2"}, m.outputs)
    local a = table.pack(f(x))
    local b = table.pack(m(x))
    for i = 1, 3 do assert.is_true(bits_equal(a[i], b[i]), "output " .. i) end
  end)

  it("writes NHWC convolutions and pools as ONNX's NCHW ones between transposes", function()
    local k = dagl.randn(3, 3, 2, 4) * 0.3
    local g = function(x) return x:conv2d(k, {padding = "same", strides = 2}):relu():max_pool2d(2):avg_pool2d(1) end
    local x = dagl.randn(2, 8, 8, 2)
    assert.is_true(bits_equal(roundtrip(g, {x})(x), g(x)))
  end)

  it("writes nn models", function()
    local nn = dagl.nn
    dagl.manual_seed(5)
    local model = nn.Sequential {nn.Conv2D(4, 3, {padding = "same", activation = "relu", input_shape = {8, 8, 1}}),
                                 nn.MaxPool2D(2), nn.Flatten(), nn.Dense(3, "softmax")}
    local x = dagl.randn(2, 8, 8, 1)
    assert.is_true(bits_equal(roundtrip(model, {x})(x), model:predict(x)))
  end)

  it("re-exports imported models: the same bits after a round trip", function()
    for _, name in ipairs {"resnet_mini", "transformer_encoder", "mobilenet_v2_025", "nhwc_chain", "op_einsum_2"} do
      local m = dagl.onnx.load(dir .. name .. ".onnx")
      local xs = read_list(name, "in")
      assert.is_true(bits_equal(roundtrip(m, xs)(table.unpack(xs)), m(table.unpack(xs))), name)
    end
  end)

  it("names the node it cannot write and checks its arguments", function()
    local op = dagl.luaop {name = "twice", forward = function(t) return t * 2 end}
    raises(function() dagl.onnx.save(function(x) return op(x) end, os.tmpname(), {dagl.ones(3)}) end,
           "has no ONNX counterpart in dagl's exporter")
    raises(function() dagl.onnx.save(3, "p", {}) end, "bad argument #1 to 'save' (function or callable model expected, got number)")
    raises(function() dagl.onnx.save(function(x) return x end, "p", {1}) end,
           "bad argument #3 to 'save' (entry 1: dagl.Tensor expected, got number)")
  end)
end)

